using System.Collections.Concurrent;
using System.Text.Json.Serialization;

namespace SandboxRunner.Runs;

public static class TaskState
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Finished = "finished";
}

public sealed record TaskStatusView(
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("result")] TaskResult? Result);

/// <summary>Where a run stands: running ones from memory, finished ones read back from the run folder.</summary>
public sealed record RunStatusView
{
    [JsonPropertyName("run_id")] public required string RunId { get; init; }

    /// <summary><c>running</c>, <c>finished</c>, <c>cancelled</c>, or <c>interrupted</c> (the server stopped while it ran).</summary>
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("base_commit")] public required string BaseCommit { get; init; }
    [JsonPropertyName("started_at")] public DateTimeOffset StartedAt { get; init; }
    [JsonPropertyName("finished_at")] public DateTimeOffset? FinishedAt { get; init; }
    [JsonPropertyName("tasks")] public required IReadOnlyList<TaskStatusView> Tasks { get; init; }
}

/// <summary>A run in progress in this process: its cancellation, and each task's state as progress reports it.</summary>
internal sealed class ActiveRun(RunPlan plan, DateTimeOffset startedAt, IProgress<TaskProgress>? forward) : IProgress<TaskProgress>, IDisposable
{
    private readonly ConcurrentDictionary<string, TaskStatusView> _tasks =
        new(plan.Tasks.Select(t => KeyValuePair.Create(t.TaskId, new TaskStatusView(t.TaskId, TaskState.Queued, null))), StringComparer.Ordinal);

    public RunPlan Plan { get; } = plan;

    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>The run itself, set when it starts; awaited on shutdown.</summary>
    public Task<RunResult>? Execution { get; set; }

    /// <summary>Cancels the run; a run that finished meanwhile needs nothing.</summary>
    public void Cancel()
    {
        try
        {
            Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Report(TaskProgress value)
    {
        var state = value.State switch
        {
            "queued" => TaskState.Queued,
            "finished" => TaskState.Finished,
            _ => TaskState.Running,
        };
        _tasks[value.TaskId] = new TaskStatusView(value.TaskId, state, value.Result ?? _tasks.GetValueOrDefault(value.TaskId)?.Result);
        forward?.Report(value);
    }

    public RunStatusView View() => new()
    {
        RunId = Plan.RunId,
        Status = Cancellation.IsCancellationRequested ? "cancelling" : "running",
        BaseCommit = Plan.BaseCommit,
        StartedAt = startedAt,
        Tasks = Plan.Tasks.Select(t => _tasks[t.TaskId]).ToList(),
    };

    public void Dispose() => Cancellation.Dispose();
}
