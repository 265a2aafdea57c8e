using System.Collections.Concurrent;
using System.Text.Json.Serialization;

namespace SandboxRunner.Runs;

[JsonConverter(typeof(JsonStringEnumConverter<TaskState>))]
public enum TaskState
{
    [JsonStringEnumMemberName("queued")] Queued,
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("finished")] Finished,
}

/// <summary>Where a run stands; serialised as lowercase strings.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunState>))]
public enum RunState
{
    [JsonStringEnumMemberName("running")] Running,

    /// <summary>Cancel was asked; its tasks are being torn down.</summary>
    [JsonStringEnumMemberName("cancelling")] Cancelling,
    [JsonStringEnumMemberName("finished")] Finished,
    [JsonStringEnumMemberName("cancelled")] Cancelled,

    /// <summary>The server stopped while it ran; its tasks were recovered by the next one.</summary>
    [JsonStringEnumMemberName("interrupted")] Interrupted,
}

public sealed record TaskStatusView(
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("state")] TaskState State,
    [property: JsonPropertyName("result")] TaskResult? Result)
{
    /// <summary>
    /// How a finished task ended, also where a listing leaves <see cref="Result"/> out (read from the run's record);
    /// for the command line's counts, not part of the tool's result.
    /// </summary>
    [JsonIgnore] public TaskStatus? Outcome { get; init; }

    /// <summary>The task's outcome from its result when present, else from the run's record.</summary>
    [JsonIgnore] public TaskStatus? Ended => Result?.Status ?? Outcome;
}

/// <summary>Where a run stands: running ones from memory, finished ones read back from the run folder.</summary>
public sealed record RunStatusView
{
    [JsonPropertyName("run_id")] public required string RunId { get; init; }

    [JsonPropertyName("status")] public required RunState Status { get; init; }

    /// <summary>Set when the run's record could not be read (a damaged <c>run.json</c>): what is wrong with it.</summary>
    [JsonPropertyName("problem"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Problem { get; init; }
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
        _tasks[value.TaskId] = new TaskStatusView(value.TaskId, value.Standing, value.Result ?? _tasks.GetValueOrDefault(value.TaskId)?.Result);
        forward?.Report(value);
    }

    public RunStatusView View() => new()
    {
        RunId = Plan.RunId,
        Status = Cancellation.IsCancellationRequested ? RunState.Cancelling : RunState.Running,
        BaseCommit = Plan.BaseCommit,
        StartedAt = startedAt,
        Tasks = Plan.Tasks.Select(t => _tasks[t.TaskId]).ToList(),
    };

    public void Dispose() => Cancellation.Dispose();
}
