using Docker.DotNet.Models;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>What a swarm task's state means to a box.</summary>
internal static class SwarmTasks
{
    /// <summary>A task that will not run (again): finished, failed, refused or abandoned.</summary>
    public static bool IsFinal(TaskResponse task) =>
        task.Status?.State is TaskState.Complete or TaskState.Shutdown or TaskState.Failed or TaskState.Rejected or TaskState.Remove or TaskState.Orphaned;

    public static string Describe(TaskResponse task) =>
        $"{task.Status?.State?.ToString().ToLowerInvariant() ?? "unknown"}{(task.Status?.Err is { Length: > 0 } err ? $": {err}" : task.Status?.Message is { Length: > 0 } message ? $" ({message})" : "")}";
}
