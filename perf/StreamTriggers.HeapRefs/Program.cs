using System.Globalization;
using Microsoft.Diagnostics.Runtime;

// streamtriggers-heaprefs PID [--top N]
//
// What a gen0 collection of a running worker must scan: every reference from an old object (gen2, or the large and
// pinned object heaps) to a young one (gen0, gen1) sits on a card the write barrier marked, and each gen0 collection
// walks every marked card twice (to mark, then to relocate) until a gen1 collection has promoted the young object.
// This attaches to the process (ClrMD; the process is suspended while the heap is walked, a few seconds for a
// 100 MB heap: never aim it at a worker whose lateness matters right now), walks every object, and counts those
// references: how many, on how many distinct 256-byte cards, from which types and fields. References from gen1 objects
// to gen0 ones are counted apart (a gen0 collection scans their cards as well). Also the bytes per generation and the
// largest types in the young generations. The numbers are a snapshot: take a few.
if (args.Length == 0 || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
{
    Console.Error.WriteLine("usage: streamtriggers-heaprefs PID [--top N]   (the process is suspended while its heap is walked)");
    return 2;
}

int top = args.Length > 2 && args[1] == "--top" ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
using var target = DataTarget.AttachToProcess(pid, suspend: true);
var clr = target.ClrVersions[0];
ClrRuntime runtime;
try
{
    runtime = clr.CreateRuntime();
}
catch (FileNotFoundException)
{
    // No DAC found by ClrMD's own search (no symbol server here): the one shipped beside the process's runtime.
    string dac = Path.Combine(Path.GetDirectoryName(clr.ModuleInfo.FileName)!, OperatingSystem.IsWindows() ? "mscordaccore.dll" : "libmscordaccore.so");
    runtime = clr.CreateRuntime(dac, ignoreMismatch: true);
}

using (runtime)
{
    var heap = runtime.Heap;
    var bytesByGeneration = new long[5];
    var youngTypes = new Dictionary<(string Type, int Gen), (long Count, long Bytes)>();
    var sources = new Dictionary<string, (long Objects, long References)>();
    var fields = new Dictionary<string, long>();
    var cards = new HashSet<ulong>();
    var gen1Cards = new HashSet<ulong>();
    long references = 0, gen1References = 0;
    foreach (var segment in heap.Segments)
    {
        foreach (var obj in segment.EnumerateObjects())
        {
            if (!obj.IsValid || obj.IsFree)
            {
                continue;
            }

            int gen = Math.Clamp((int)segment.GetGeneration(obj.Address), 0, 4);
            bytesByGeneration[gen] += (long)obj.Size;
            string type = obj.Type?.Name ?? "?";
            if (gen <= 1)
            {
                youngTypes.TryGetValue((type, gen), out var t);
                youngTypes[(type, gen)] = (t.Count + 1, t.Bytes + (long)obj.Size);
                if (gen == 0)
                {
                    continue;
                }
            }

            long found = 0;
            foreach (var r in obj.EnumerateReferencesWithFields(carefully: false, considerDependantHandles: false))
            {
                var to = heap.GetSegmentByAddress(r.Object.Address);
                int toGen = to is null ? -1 : (int)to.GetGeneration(r.Object.Address);
                if (toGen < 0 || toGen >= Math.Min(gen, 2))
                {
                    continue; // only references to a younger generation (gen1 objects count those to gen0)
                }

                found++;
                (gen == 1 ? gen1Cards : cards).Add((obj.Address + (ulong)r.Offset) >> 8);
                string field = obj.Type?.IsArray == true ? "[]" : "." + (r.Field?.Name ?? "?");
                string key = $"{(gen == 1 ? "gen1 " : "")}{type} {field} -> {r.Object.Type?.Name ?? "?"} (gen{toGen})";
                fields[key] = fields.GetValueOrDefault(key) + 1;
            }

            if (found > 0)
            {
                if (gen == 1)
                {
                    gen1References += found;
                    type = "gen1 " + type;
                }
                else
                {
                    references += found;
                }

                var s = sources.GetValueOrDefault(type);
                sources[type] = (s.Objects + 1, s.References + found);
            }
        }
    }

    var c = CultureInfo.InvariantCulture;
    Console.WriteLine(string.Create(c, $"heap: gen0 {Mb(bytesByGeneration[0])}, gen1 {Mb(bytesByGeneration[1])}, gen2 {Mb(bytesByGeneration[2])}, large objects {Mb(bytesByGeneration[3])}, pinned {Mb(bytesByGeneration[4])} (live and dead: what is not yet collected)"));
    Console.WriteLine(string.Create(c, $"old -> young: {references:N0} references on {cards.Count:N0} distinct 256-byte cards; gen1 -> gen0 (scanned by a gen0 collection too): {gen1References:N0} references on {gen1Cards.Count:N0} cards"));
    Console.WriteLine("by the old object's type (objects holding such references, references):");
    foreach (var (type, s) in sources.OrderByDescending(kv => kv.Value.References).Take(top))
    {
        Console.WriteLine(string.Create(c, $"  {s.Objects,9:N0} {s.References,9:N0}  {type}"));
    }

    Console.WriteLine("by field:");
    foreach (var (field, n) in fields.OrderByDescending(kv => kv.Value).Take(top))
    {
        Console.WriteLine(string.Create(c, $"  {n,9:N0}  {field}"));
    }

    foreach (int gen in new[] { 0, 1 })
    {
        Console.WriteLine(string.Create(c, $"largest types in gen{gen} (bytes, objects):"));
        foreach (var ((type, _), t) in youngTypes.Where(kv => kv.Key.Gen == gen).OrderByDescending(kv => kv.Value.Bytes).Take(top))
        {
            Console.WriteLine(string.Create(c, $"  {t.Bytes / 1024.0,9:N0} KB {t.Count,9:N0}  {type}"));
        }
    }
}

return 0;

static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:N1} MB");
