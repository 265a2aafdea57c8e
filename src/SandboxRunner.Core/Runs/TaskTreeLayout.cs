using SandboxRunner.Git;
using SandboxRunner.Policy;

namespace SandboxRunner.Runs;

/// <summary>
/// Where task trees live: <c>.git/sandbox-runner/worktrees/&lt;run&gt;/&lt;task&gt;/</c>, with an <c>owner</c>
/// file per run naming the server process, so a later server can tell a killed server's trees from a
/// live one's.
/// </summary>
public static class TaskTreeLayout
{
    public const string OwnerFileName = "owner";

    public static string Root(HostRepository repository) => Path.Combine(repository.RunnerDir, "worktrees");

    public static string RunFolder(HostRepository repository, string runId) => ContainedPath.Combine(repository.RunnerDir, "worktrees", runId);

    public static string TaskFolder(HostRepository repository, string runId, string taskId) =>
        ContainedPath.Combine(repository.RunnerDir, "worktrees", runId, taskId);

    /// <summary>A task's folder, or with <paramref name="attempt"/> the folder of that attempt of it.</summary>
    public static string TaskFolder(HostRepository repository, string runId, string taskId, int? attempt) =>
        attempt is { } k
            ? ContainedPath.Combine(repository.RunnerDir, "worktrees", runId, taskId, AttemptFolderName(k))
            : TaskFolder(repository, runId, taskId);

    /// <summary>The name of an attempt's folder inside its task's.</summary>
    public static string AttemptFolderName(int attempt) => $"attempt-{attempt.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>Written when a task's verification starts: a recovered tree with it was being verified when its server went.</summary>
    public static string VerifyingMarker(string taskFolder) => Path.Combine(taskFolder, "verifying");

    /// <summary>Written just before a task's container starts: a tree without it holds no agent work.</summary>
    public static string StartedMarker(string taskFolder) => Path.Combine(taskFolder, "started");

    public static string OwnerFile(HostRepository repository, string runId) => Path.Combine(RunFolder(repository, runId), OwnerFileName);
}
