using System.Diagnostics;
using System.Globalization;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// Where the CPU went during one half of the swarm throughput run, to tell a CPU-bound wall from a latency-bound one:
/// the machine's busy fraction from /proc/stat (averaged, and how often a 1 s sample found it at least 90% busy), the
/// cores each node's dind used (cgroup v1 cpuacct of its container; its boxes are nested under it, see
/// <see cref="NodeEntrypoint"/>), and this runner process's own. What is left of the busy time is everyone else on
/// the shared machine.
/// </summary>
internal sealed class SwarmCpu : IDisposable
{
    /// <summary>
    /// The dind's own entrypoint, after telling its dockerd to make its boxes' cgroups under the node container's cgroup
    /// (cgroupns host: a dind's boxes otherwise sit at /docker/&lt;box&gt; beside it), so the node's CPU count includes its
    /// boxes and a cpuset on the node container holds for them too.
    /// </summary>
    public const string NodeEntrypoint =
        "p=$(sed -n 's/^[0-9]*:cpuset://p' /proc/self/cgroup); mkdir -p /etc/docker; " +
        "printf '{\"cgroup-parent\": \"%s\"}' \"$p\" > /etc/docker/daemon.json; exec /usr/local/bin/dind";

    private readonly IReadOnlyList<(string Name, string Container)> _nodes;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly (long Busy, long Total) _machine;
    private readonly long[] _nodeNs;
    private readonly TimeSpan _runner;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<(int Samples, int Saturated)> _sampling;

    private SwarmCpu(IReadOnlyList<(string Name, string Container)> nodes)
    {
        _nodes = nodes;
        _machine = ReadStat();
        _nodeNs = nodes.Select(n => ReadNodeNs(n.Container)).ToArray();
        _runner = Process.GetCurrentProcess().TotalProcessorTime;
        _sampling = SampleAsync(_stop.Token);
    }

    public static SwarmCpu Start(IReadOnlyList<(string Name, string Container)> nodes) => new(nodes);

    /// <summary>One line: machine busy, per node cores, runner cores, others.</summary>
    public async Task<string> StopAsync()
    {
        var wall = _clock.Elapsed.TotalSeconds;
        var machine = ReadStat();
        var nodeNs = _nodes.Select(n => ReadNodeNs(n.Container)).ToArray();
        var runner = (Process.GetCurrentProcess().TotalProcessorTime - _runner).TotalSeconds / wall;
        await _stop.CancelAsync();
        var (samples, saturated) = await _sampling;
        var busy = (double)(machine.Busy - _machine.Busy) / Math.Max(1, machine.Total - _machine.Total);
        var cores = Environment.ProcessorCount;
        var nodes = _nodes.Select((n, i) => _nodeNs[i] < 0 || nodeNs[i] < 0 ? (n.Name, Cores: double.NaN) : (n.Name, Cores: (nodeNs[i] - _nodeNs[i]) / 1e9 / wall)).ToList();
        var others = busy * cores - runner - nodes.Where(n => !double.IsNaN(n.Cores)).Sum(n => n.Cores);
        var perNode = string.Join(", ", nodes.Select(n => string.Create(CultureInfo.InvariantCulture, $"{n.Name} dind {n.Cores:F2} cores")));
        return string.Create(
            CultureInfo.InvariantCulture,
            $"machine {busy * 100:F0}% busy of {cores} cores ({saturated} of {samples} 1 s samples >= 90%); {perNode}; runner {runner:F2} cores; others {Math.Max(0, others):F2} cores");
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private static async Task<(int, int)> SampleAsync(CancellationToken cancellationToken)
    {
        var (samples, saturated) = (0, 0);
        var last = ReadStat();
        try
        {
            while (true)
            {
                await Task.Delay(1000, cancellationToken);
                var now = ReadStat();
                samples++;
                if ((double)(now.Busy - last.Busy) / Math.Max(1, now.Total - last.Total) >= 0.9)
                {
                    saturated++;
                }

                last = now;
            }
        }
        catch (OperationCanceledException)
        {
            return (samples, saturated);
        }
    }

    /// <summary>The "cpu" line of /proc/stat: busy is everything but idle and iowait (steal counts as busy: lost to us).</summary>
    private static (long Busy, long Total) ReadStat()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        var total = fields.Take(8).Sum();
        return (total - fields[3] - fields[4], total);
    }

    /// <summary>Nanoseconds of CPU a container's cgroup used (cgroup v1, cgroupfs driver); -1 where that file is not there.</summary>
    private static long ReadNodeNs(string container)
    {
        var path = $"/sys/fs/cgroup/cpuacct/docker/{container}/cpuacct.usage";
        return File.Exists(path) ? long.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture) : -1;
    }
}
