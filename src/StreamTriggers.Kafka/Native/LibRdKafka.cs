using System.Reflection;
using System.Runtime.InteropServices;

namespace StreamTriggers.Kafka.Native;

/// <summary>
/// Loads librdkafka once for Confluent.Kafka and for the mock-cluster calls. On linux-x64 the package's plain
/// <c>librdkafka.so</c> needs libsasl2, which a fresh Debian lacks; its self-contained <c>centos8-librdkafka.so</c>
/// loads everywhere glibc does, so it is preferred. <c>STREAMTRIGGERS_LIBRDKAFKA</c> names another file.
/// </summary>
public static class LibRdKafka
{
    private static readonly Lock Gate = new();
    private static string? _path;

    /// <summary>The native library in use, after <see cref="EnsureLoaded"/>.</summary>
    public static string? LoadedPath => _path;

    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_path is not null)
            {
                return;
            }

            string path = Resolve();
            // Confluent.Kafka binds its P/Invokes by library name ("librdkafka", "centos8-librdkafka", ...), which
            // default probing resolves to the libsasl2-dependent file, and dlopens through DllImport("libdl"), which
            // glibc 2.34+ systems (Debian 12) ship only as libdl.so.2. Both are pointed at what loads here.
            NativeLibrary.SetDllImportResolver(typeof(Confluent.Kafka.Library).Assembly, (name, _, _) =>
            {
                if (name.EndsWith("librdkafka", StringComparison.Ordinal))
                {
                    return NativeLibrary.Load(path);
                }

                return name == "libdl" && OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libdl.so.2", out var dl) ? dl : IntPtr.Zero;
            });

            Confluent.Kafka.Library.Load(path);
            NativeLibrary.SetDllImportResolver(typeof(LibRdKafka).Assembly, (name, _, _) =>
                name == Mock.NativeMethods.Library ? NativeLibrary.Load(path) : IntPtr.Zero);
            _path = path;
        }
    }

    private static string Resolve()
    {
        string? configured = Environment.GetEnvironmentVariable("STREAMTRIGGERS_LIBRDKAFKA");
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured) ? configured : throw new FileNotFoundException($"STREAMTRIGGERS_LIBRDKAFKA names '{configured}', which does not exist");
        }

        string rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        string[] candidates = OperatingSystem.IsLinux()
            ? ["centos8-librdkafka.so", "librdkafka.so", "alpine-librdkafka.so"]
            : OperatingSystem.IsMacOS() ? ["librdkafka.dylib"] : ["librdkafka.dll"];
        string osRid = OperatingSystem.IsLinux() ? rid : OperatingSystem.IsMacOS() ? "osx-" + (rid.EndsWith("arm64", StringComparison.Ordinal) ? "arm64" : "x64") : "win-x64";

        var roots = new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(Confluent.Kafka.Library).Assembly.Location) ?? string.Empty, Path.GetDirectoryName(Assembly.GetEntryAssembly()?.Location) ?? string.Empty }
            .Where(r => r.Length > 0).Distinct().ToList();
        foreach (string root in roots)
        {
            foreach (string file in candidates)
            {
                foreach (string dir in new[] { Path.Combine(root, "runtimes", osRid, "native"), root })
                {
                    string path = Path.Combine(dir, file);
                    if (File.Exists(path) && CanLoad(path))
                    {
                        return path;
                    }
                }
            }
        }

        throw new DllNotFoundException($"no loadable librdkafka for {osRid} under {string.Join(", ", roots)}; set STREAMTRIGGERS_LIBRDKAFKA");
    }

    private static bool CanLoad(string path)
    {
        if (!NativeLibrary.TryLoad(path, out var handle))
        {
            return false;
        }

        NativeLibrary.Free(handle);
        return true;
    }
}
