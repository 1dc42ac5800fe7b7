using BenchmarkDotNet.Running;

namespace StreamTriggers.Benchmarks;

public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["--footprint"])
        {
            Footprint.Run();
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new BenchmarkConfig());
    }
}
