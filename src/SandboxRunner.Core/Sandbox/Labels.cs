namespace SandboxRunner.Sandbox;

/// <summary>
/// Labels on everything the runner creates in Docker. They are the cleanup mechanism: whatever carries
/// <see cref="Run"/> belongs to a run and can be found and removed by it, even after a crash.
/// </summary>
public static class Labels
{
    public const string Run = "sandbox-runner.run";
    public const string Task = "sandbox-runner.task";

    /// <summary>What a container of the runner's own is for: <c>egress</c> (a run's proxy) or <c>netns</c> (a task's network holder).</summary>
    public const string Role = "sandbox-runner.role";

    public static IReadOnlyDictionary<string, string> For(string runId, string taskId) =>
        new Dictionary<string, string> { [Run] = runId, [Task] = taskId };
}
