namespace SandboxRunner.Boxes;

/// <summary>
/// Labels on everything a backend creates for the runner. They are the cleanup mechanism (defined once, here):
/// whatever carries <see cref="Run"/> belongs to a run and can be found and removed by it, even after a crash.
/// </summary>
public static class Labels
{
    public const string Run = "sandbox-runner.run";
    public const string Task = "sandbox-runner.task";

    /// <summary>Which attempt of a task (1-8) a container runs, for a task run with <c>attempts</c> over 1.</summary>
    public const string Attempt = "sandbox-runner.attempt";

    /// <summary>
    /// The repository a resource belongs to (<see cref="ScopeOf"/>): run ids are unique only within one
    /// repository, so every name and teardown filter includes it.
    /// </summary>
    public const string Scope = "sandbox-runner.repo";

    /// <summary>
    /// What a box of the runner's own is for: <c>egress</c> (a run's proxy), <c>netns</c> (a task's network
    /// holder), <c>verify</c> (where a task's verify commands run) or <c>doctor</c>; on an image, one of <see cref="ImageRoles"/>.
    /// </summary>
    public const string Role = "sandbox-runner.role";

    /// <summary>On an image the runner built: the tag it was built as. Images without it are never the runner's to list or remove.</summary>
    public const string Image = "sandbox-runner.image";

    /// <summary>
    /// <c>machine/pid</c> of the server process that created the container or network: what lets a later
    /// server remove what a killed one (SIGKILL, a crash) left running.
    /// </summary>
    public const string Owner = "sandbox-runner.owner";

    public static string CurrentOwner { get; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>Whether <paramref name="labels"/> name an owner (<see cref="Owner"/>) that is a gone process of this machine.</summary>
    public static bool HasGoneOwner(IDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(Owner, out var owner) && IsOrphanedBy(owner);

    /// <summary>Whether <paramref name="owner"/> names a process of this machine that no longer exists.</summary>
    public static bool IsOrphanedBy(string owner)
    {
        var slash = owner.LastIndexOf('/');
        return slash > 0
            && owner[..slash] == Environment.MachineName
            && int.TryParse(owner[(slash + 1)..], out var pid)
            && pid != Environment.ProcessId
            && !IsRunning(pid);
    }

    /// <summary>A zombie (killed, not yet reaped by its parent) still has /proc/PID but runs nothing: it is gone.</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat.LastIndexOf(')') is var close and > 0 && close + 2 < stat.Length ? stat[close + 2] : 'R';
            return state is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Directory.Exists($"/proc/{pid}");
        }
    }

    /// <summary>A short, stable id for a repository's git directory, safe in Docker names.</summary>
    public static string ScopeOf(string gitCommonDir) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(gitCommonDir))))[..12];

    /// <summary>
    /// The labels of a box of <paramref name="identity"/> on a site of <paramref name="scope"/> and <paramref name="runId"/>:
    /// scope, run, task, attempt and role, each where it applies. (The backend adds <see cref="Owner"/>.)
    /// </summary>
    public static Dictionary<string, string> For(BoxScope scope, string? runId, BoxIdentity identity)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (scope.Repository is { } repository)
        {
            labels[Scope] = repository;
        }

        if (runId is not null)
        {
            labels[Run] = runId;
        }

        if (identity.TaskId is { } task)
        {
            labels[Task] = task;
        }

        if (identity.Attempt is { } k)
        {
            labels[Attempt] = k.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (identity.Role is { } role)
        {
            labels[Role] = role;
        }

        return labels;
    }

    /// <summary>A task's labels in a repository's scope (callers of the engine seam; the backend writes <see cref="For(BoxScope, string?, BoxIdentity)"/>).</summary>
    public static IReadOnlyDictionary<string, string> For(string scope, string runId, string taskId, int? attempt = null) =>
        For(new BoxScope(scope), runId, new BoxIdentity(taskId, attempt));

    /// <summary>The <see cref="Role"/> of the box a task's verify commands run in.</summary>
    public const string VerifyRole = "verify";

    /// <summary>The <see cref="Role"/> of the throwaway box that lists a stopped box's scratch folders (<see cref="ITaskBox.LookBesideAsync"/>).</summary>
    public const string LookRole = "look";

    /// <summary>The <see cref="Role"/> of the doctor's runtime probe.</summary>
    public const string ProbeRole = "doctor";

    /// <summary>The <see cref="Role"/> of the container (created, never started) that tells whether an engine sees this machine's files.</summary>
    public const string HostFilesProbeRole = "probe";

    /// <summary>
    /// Whether <paramref name="labels"/> are those of a probe (of no run, of no repository) whose creating process is
    /// gone: nothing ever recovers a probe, so whoever sweeps removes it, whatever else it selects.
    /// </summary>
    public static bool IsOrphanedProbe(IReadOnlyDictionary<string, string> labels) =>
        labels.TryGetValue(Role, out var role) && role is ProbeRole or HostFilesProbeRole
        && !labels.ContainsKey(Run)
        && labels.TryGetValue(Owner, out var owner) && IsOrphanedBy(owner);

    /// <summary>Everything of one run of one repository.</summary>
    public static LabelSelector OfRun(string scope, string runId) => LabelSelector.Of(Scope, scope).And(Run, runId);
}

/// <summary>The <see cref="Labels.Role"/> values of the runner's images.</summary>
public static class ImageRoles
{
    /// <summary>The image tasks run in (built from <c>Dockerfile.codex</c>).</summary>
    public const string Task = "task";

    /// <summary>The egress proxy of <c>network_policy: deny</c>.</summary>
    public const string Proxy = "proxy";

    /// <summary>A toolchain image built for a repository's environment.</summary>
    public const string Environment = "environment";

    /// <summary>One run's checkout on top of an environment's setup, removed when the run ends.</summary>
    public const string Run = "run";
}
