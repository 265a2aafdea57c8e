using System.Collections.Concurrent;
using System.Diagnostics;
using SandboxRunner.Runs;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// The runner's phases of each run (<see cref="RunPhases"/>), listened to while it runs: per run, the time of each phase
/// (summed when a phase repeats, as the tree measurements do) and how often it ran, for the rows that split a task's
/// time (issue 26's no-op row, quiet and under load).
/// </summary>
internal sealed class PhaseRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<(string Phase, double Ms)> _ended = new();

    public PhaseRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RunPhases.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity => _ended.Enqueue((activity.OperationName, activity.Duration.TotalMilliseconds)),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The phases ended since the last take: total ms and count per phase, in the order they first ended.</summary>
    public IReadOnlyList<(string Phase, double Ms, int Count)> Take()
    {
        var taken = new List<(string Phase, double Ms, int Count)>();
        while (_ended.TryDequeue(out var ended))
        {
            var at = taken.FindIndex(t => t.Phase == ended.Phase);
            if (at < 0)
            {
                taken.Add((ended.Phase, ended.Ms, 1));
            }
            else
            {
                taken[at] = (ended.Phase, taken[at].Ms + ended.Ms, taken[at].Count + 1);
            }
        }

        return taken;
    }

    /// <summary>Adds one run's phases to <paramref name="table"/> (rows keyed by phase), and the rest of the run's time.</summary>
    public static void AddTo(ResultTable table, IReadOnlyList<(string Phase, double Ms, int Count)> phases, double runMs)
    {
        var top = 0.0;
        foreach (var (phase, ms, count) in phases)
        {
            table.Row($"phase: {phase}", $"  phase: {phase}").Add(ms);
            if (!phase.StartsWith("task watch", StringComparison.Ordinal))
            {
                top += ms;
            }

            if (phase.StartsWith("task watch", StringComparison.Ordinal))
            {
                table.Row($"count: {phase}", $"  how many times (a count, not ms): {phase}").Add(count);
            }
        }

        // Between phases: the run's registration, progress reports, awaiting the task (the watch runs inside the agent's phase).
        table.Row("phase: rest", "  phase: the rest of Runner.RunAsync (between the phases)").Add(runMs - top);
    }

    /// <summary>The phases ended since the last take, each as its mean per occurrence (one line: where a task's time went in a fan-out).</summary>
    public string DescribeMeans() =>
        string.Join("; ", Take().Select(p => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{p.Phase} {p.Ms / p.Count:F0} ms")));

    public void Dispose() => _listener.Dispose();
}
