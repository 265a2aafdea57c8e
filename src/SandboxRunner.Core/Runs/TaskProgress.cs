using System.Text.Json.Serialization;

namespace SandboxRunner.Runs;

/// <summary>What a task is doing, as progress reports it; the wire names are what MCP progress messages and the command line show.</summary>
public enum TaskPhase
{
    [JsonStringEnumMemberName("queued")] Queued,

    /// <summary>The run's environments are being prepared (image, setup) before the task can start.</summary>
    [JsonStringEnumMemberName("environment")] Environment,

    [JsonStringEnumMemberName("started")] Started,

    /// <summary>The agent finished one command.</summary>
    [JsonStringEnumMemberName("command")] Command,

    [JsonStringEnumMemberName("verifying")] Verifying,

    /// <summary>One attempt of a task run with <c>attempts</c> ended; the task finishes when all have.</summary>
    [JsonStringEnumMemberName("attempt finished")] AttemptFinished,

    [JsonStringEnumMemberName("finished")] Finished,
}

/// <summary>A task's state change, for callers that report progress.</summary>
public sealed record TaskProgress(string TaskId, TaskPhase Phase, string Message)
{
    /// <summary>Set when <see cref="Phase"/> is <see cref="TaskPhase.Finished"/>.</summary>
    public TaskResult? Result { get; init; }

    /// <summary>The phase's wire name (<c>queued</c>, <c>attempt finished</c>, ...).</summary>
    public string State => Platform.WireName.Of(Phase);

    /// <summary>Where the task stands after this change.</summary>
    public TaskState Standing => Phase switch
    {
        TaskPhase.Queued => TaskState.Queued,
        TaskPhase.Finished => TaskState.Finished,
        _ => TaskState.Running,
    };
}
