using System.Globalization;
using System.Text;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// One container's cost at one moment, read from this machine (the engine is local, cgroup v1 with the cgroupfs driver
/// as on the CI machines): its cgroup's CPU time and memory, and its containerd shim's CPU ticks and memory (the shim
/// is what a started container costs the host besides its own processes). -1 where a file cannot be read.
/// </summary>
internal sealed record IdleCost(long CpuNs, long MemoryBytes, long RssBytes, long CacheBytes, long ShimTicks, long ShimPssBytes, long ShimRssBytes)
{
    public static IdleCost Read(string id)
    {
        var cpu = ReadLong($"/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage");
        var memory = ReadLong($"/sys/fs/cgroup/memory/docker/{id}/memory.usage_in_bytes");
        var stat = ReadKeyed($"/sys/fs/cgroup/memory/docker/{id}/memory.stat", ' ');
        var shim = ShimOf(id);
        long ticks = -1, pss = -1, rss = -1;
        if (shim is { } pid)
        {
            try
            {
                var fields = File.ReadAllText($"/proc/{pid}/stat");
                var rest = fields[(fields.LastIndexOf(')') + 2)..].Split(' ');
                ticks = long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
            }

            pss = Kb(ReadKeyed($"/proc/{pid}/smaps_rollup", ':').GetValueOrDefault("Pss", -1));
            rss = Kb(ReadKeyed($"/proc/{pid}/status", ':').GetValueOrDefault("VmRSS", -1));
        }

        return new IdleCost(cpu, memory, stat.GetValueOrDefault("total_rss", -1), stat.GetValueOrDefault("total_cache", -1), ticks, pss, rss);
    }

    private static long Kb(long kb) => kb < 0 ? -1 : kb * 1024;

    /// <summary>The pid of <c>containerd-shim-runc-v2 ... -id ID</c> (one shim per container on Docker 20.10).</summary>
    private static int? ShimOf(string id)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains("containerd-shim", StringComparison.Ordinal) && cmdline.Contains(id, StringComparison.Ordinal))
                {
                    return pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return null;
    }

    private static long ReadLong(string path)
    {
        try
        {
            return long.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return -1;
        }
    }

    /// <summary><c>key value</c> (or <c>Key: value kB</c>) lines, the value's first number.</summary>
    private static Dictionary<string, long> ReadKeyed(string path, char separator)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var at = line.IndexOf(separator);
                if (at > 0 && long.TryParse(line[(at + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture, out var value))
                {
                    values[line[..at]] = value;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return values;
    }
}

/// <summary>Per-gate averages over the held boxes: memory at the end of the window, CPU over it.</summary>
internal sealed class IdleTable(string title)
{
    private readonly StringBuilder _rows = new();
    private readonly List<string> _notes = [];

    public void Add(string gate, IReadOnlyList<IdleCost> before, IReadOnlyList<IdleCost> after, TimeSpan window)
    {
        static string Mib(IEnumerable<long> bytes) =>
            bytes.Any(b => b < 0) ? "n/a" : (bytes.Average() / (1 << 20)).ToString("F2", CultureInfo.InvariantCulture);

        var seconds = window.TotalSeconds;
        var cpu = before.Zip(after, (b, a) => b.CpuNs < 0 || a.CpuNs < 0 ? double.NaN : (a.CpuNs - b.CpuNs) / 1e6 / seconds).Average();
        var shimCpu = before.Zip(after, (b, a) => b.ShimTicks < 0 || a.ShimTicks < 0 ? double.NaN : (a.ShimTicks - b.ShimTicks) * 10.0 / seconds).Average();
        _rows.Append(CultureInfo.InvariantCulture,
            $"| {gate} | {Mib(after.Select(c => c.MemoryBytes))} | {Mib(after.Select(c => c.RssBytes))} | {Mib(after.Select(c => c.CacheBytes))} | {cpu:F2} | " +
            $"{Mib(after.Select(c => c.ShimPssBytes))} | {Mib(after.Select(c => c.ShimRssBytes))} | {shimCpu:F2} | {after.Count} |\n");
    }

    public void Note(string text) => _notes.Add(text);

    public string Render()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"## {title}\n\n");
        text.Append("| gate | cgroup memory MiB | of it rss | of it cache | cgroup CPU ms/s | shim PSS MiB | shim RSS MiB | shim CPU ms/s (10 ms ticks) | boxes |\n");
        text.Append("|---|---|---|---|---|---|---|---|---|\n");
        text.Append(_rows);
        foreach (var note in _notes)
        {
            text.Append('\n').Append(note);
        }

        return text.Append('\n').ToString();
    }
}
