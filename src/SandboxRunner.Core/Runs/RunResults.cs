using System.Collections.Concurrent;

namespace SandboxRunner.Runs;

/// <summary>
/// The results one run's tasks and attempts got, as they were written to disk (a <see cref="RunStore"/> made
/// with it reports each write): what the run's record and its never-ran results are built from at the end,
/// without reading <c>result.json</c> back. Recovery, whose process is gone, reads them from disk instead.
/// </summary>
public sealed class RunResults(string runId)
{
    private readonly ConcurrentDictionary<(string TaskId, int? Attempt), TaskResult> _kept = new();

    public string RunId => runId;

    /// <summary>Called by the store once <paramref name="result"/> is on disk; results of other runs are not this one's.</summary>
    internal void Kept(string run, TaskResult result)
    {
        if (run == runId)
        {
            _kept[(result.TaskId, result.Attempt)] = result;
        }
    }

    /// <summary>The task's result (or, with <paramref name="attempt"/>, that attempt's) once it is on disk; null before.</summary>
    public TaskResult? Of(string taskId, int? attempt = null) => _kept.GetValueOrDefault((taskId, attempt));
}
