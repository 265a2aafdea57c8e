using System.Diagnostics;
using System.Globalization;
using System.Text;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.Runs;

namespace SandboxRunner.Benchmarks;

/// <summary>Issue 25's throughput figure: 32 waiting tasks on two nodes against one, from a first and from a repeated fan-out.</summary>
internal static partial class SwarmBenchmark
{
    /// <summary>Run concurrency 8: the two nodes' places under the cap, and the runner's ceiling (RunRequest.ConcurrencyCeiling).</summary>
    private static async Task ThroughputAsync(Func<(SwarmBackend Backend, Runner Runner)> fresh, Cluster cluster, CancellationToken cancellationToken)
    {
        const int concurrency = RunRequest.ConcurrencyCeiling;
        var nodeContainers = new[] { ("manager", cluster.ManagerContainer), ("worker", cluster.WorkerContainer) };
        var cpu = new Dictionary<string, string>(StringComparer.Ordinal);
        var tasks = Enumerable.Range(1, WaitTasks).Select(i => new TaskRequest { TaskId = $"w{i}", Prompt = "@sleep 5\n@message done" }).ToArray();
        async Task<TimeSpan> WallAsync(string label, int warmUps)
        {
            Console.Error.Write($"[{label}, concurrency {concurrency}]");
            var (backend, swarmRunner) = fresh();
            await using var disposing = backend;
            // Off the clock, no-op tasks at the run's concurrency: one leaves the runner as it is once it has run anything
            // (its image in the registry, its parking network made, the pool as one task leaves it); eight leave it as a
            // fan-out of the same shape does (the pool sized to it), the steady state of a manager that fans out again.
            await swarmRunner.RunAsync(
                new RunRequest { Concurrency = concurrency, Tasks = [.. Enumerable.Range(1, warmUps).Select(i => new TaskRequest { TaskId = $"warm-up-{i}", Prompt = "@message done" })] },
                null,
                cancellationToken);
            await Platform.Poll.UntilAsync(_ => Task.FromResult(backend.Pool.Policy.Count == backend.Pool.Policy.Idle.Count), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), cancellationToken);
            var clock = Stopwatch.StartNew();
            var events = new PhaseTimes(clock);
            using var sampler = SwarmCpu.Start(nodeContainers);
            using var phases = new PhaseRecorder();
            var run = await swarmRunner.RunAsync(new RunRequest { Concurrency = concurrency, Tasks = tasks }, events, cancellationToken);
            clock.Stop();
            cpu[label] = await sampler.StopAsync();
            Console.WriteLine($"{label}, concurrency {concurrency}: {events.Describe()} (load {Load()})\n  mean per phase: {phases.DescribeMeans()}");
            var failed = run.Results.Where(r => r.Status != Runs.TaskStatus.Success).ToList();
            if (failed.Count > 0)
            {
                // A figure with failed tasks is no figure: said loudly, with the first reason.
                Console.WriteLine($"!! {failed.Count} of {WaitTasks} waiting tasks failed on {label}: {failed[0].NotesForManager}");
            }

            var nodes = string.Join(", ", run.Results.GroupBy(r => r.Node).Select(g => $"{g.Count()} on {g.Key}"));
            Console.Error.WriteLine($" {clock.Elapsed.TotalSeconds:F1} s ({nodes})");
            return clock.Elapsed;
        }

        var states = new[] { ("first fan-out", 1), ("repeated fan-out", concurrency) };
        var two = new List<TimeSpan>();
        var one = new List<TimeSpan>();
        foreach (var (state, warmUps) in states)
        {
            two.Add(await WallAsync($"two nodes, {state}", warmUps));
        }

        await Docker(["-H", cluster.Manager.Endpoint.ToString(), "node", "update", "--availability", "drain", cluster.WorkerNode], cancellationToken);
        try
        {
            foreach (var (state, warmUps) in states)
            {
                one.Add(await WallAsync($"one node, {state}", warmUps));
            }
        }
        finally
        {
            await Docker(["-H", cluster.Manager.Endpoint.ToString(), "node", "update", "--availability", "active", cluster.WorkerNode], cancellationToken);
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"## swarm: {WaitTasks} tasks that each wait 5 s, max_tasks_per_node 4, run concurrency {concurrency}{(cluster.Pinned ? ", nodes pinned to a core each" : "")}\n\n");
        for (var i = 0; i < states.Length; i++)
        {
            var state = states[i].Item1;
            text.Append(CultureInfo.InvariantCulture, $"{state} (warmed off the clock by {states[i].Item2} no-op task(s) on a backend of its own):\n");
            text.Append(CultureInfo.InvariantCulture, $"  two nodes: {two[i].TotalSeconds:F1} s wall; CPU: {cpu[$"two nodes, {state}"]}\n");
            text.Append(CultureInfo.InvariantCulture, $"  one node (worker drained): {one[i].TotalSeconds:F1} s wall; CPU: {cpu[$"one node, {state}"]}\n");
            text.Append(CultureInfo.InvariantCulture, $"  two-node/one-node throughput: {one[i] / two[i]:F2}x (target >= 1.8x)\n");
            text.Append(CultureInfo.InvariantCulture, $"  ideal: {WaitTasks / 8} waves of 5 s on two nodes, {WaitTasks / 4} on one; per wave beyond the 5 s: two nodes {(two[i].TotalSeconds - WaitTasks / 8 * 5) / (WaitTasks / 8):F1} s, one node {(one[i].TotalSeconds - WaitTasks / 4 * 5) / (WaitTasks / 4):F1} s\n");
        }

        Console.WriteLine(text.ToString());
    }

    private static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    /// <summary>When each task was reported started and finished, to tell the waits from the per-task work around them.</summary>
    private sealed class PhaseTimes(Stopwatch clock) : IProgress<TaskProgress>
    {
        private readonly List<double> _started = [];
        private readonly Dictionary<string, double> _startedAt = new(StringComparer.Ordinal);
        private readonly List<double> _held = [];

        public void Report(TaskProgress value)
        {
            var now = clock.Elapsed.TotalSeconds;
            lock (_started)
            {
                if (value.Phase == TaskPhase.Started && _startedAt.TryAdd(value.TaskId, now))
                {
                    _started.Add(now);
                }
                else if (value.Phase == TaskPhase.Finished && _startedAt.TryGetValue(value.TaskId, out var at))
                {
                    _held.Add(now - at);
                }
            }
        }

        public string Describe()
        {
            lock (_started)
            {
                var gaps = _started.Order().Zip(_started.Order().Skip(1), (a, b) => b - a).Order().ToList();
                var held = _held.Order().ToList();
                return string.Create(CultureInfo.InvariantCulture,
                    $"first start {_started.Min():F1} s, 8th start {_started.Order().ElementAt(Math.Min(7, _started.Count - 1)):F1} s, last start {_started.Max():F1} s; " +
                    $"median gap between starts {gaps[gaps.Count / 2]:F2} s; started->finished median {held[held.Count / 2]:F1} s (max {held[^1]:F1} s)");
            }
        }
    }
}
