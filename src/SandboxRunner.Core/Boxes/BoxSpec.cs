namespace SandboxRunner.Boxes;

/// <summary>
/// What a box needs, not how a platform provides it: the image and command, the user and environment, the
/// workspace the transport chose, the limits, and who it is (which the backend writes as labels). The network
/// is the site's. Every box runs with no capability, no new privileges and a <c>/tmp</c> of <see cref="ResourceLimits.TmpBytes"/>.
/// </summary>
public sealed record BoxSpec
{
    public required string Image { get; init; }

    /// <summary>Replaces the image's entrypoint (a box that idles while commands run in it); null keeps the image's.</summary>
    public IReadOnlyList<string>? Entrypoint { get; init; }

    public required IReadOnlyList<string> Command { get; init; }

    /// <summary><c>uid:gid</c> the command runs as; never root for anything the agent or its tree runs.</summary>
    public required string User { get; init; }

    public required string WorkingDirectory { get; init; }

    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    /// <summary>Folders of this machine mounted in, or scratch folders filled through <see cref="ITaskBox.PutArchiveAsync"/>: the transport's choice.</summary>
    public IReadOnlyList<BoxMount> Workspace { get; init; } = [];

    public required ResourceLimits Limits { get; init; }

    /// <summary>False only for <c>danger-full-access</c>, and where the work is written into the image's own filesystem (environments, setup).</summary>
    public bool ReadOnlyRoot { get; init; } = true;

    /// <summary>What the platform keeps of the box's output on its own disk; the runner stops a task whose output passes its limit before that.</summary>
    public long? MaxLogBytes { get; init; }

    public required BoxIdentity Identity { get; init; }

    /// <summary>The image's own init, which starts the command as <see cref="User"/>; null for the platform's init.</summary>
    public SealedInit? Init { get; init; }

    /// <summary>The OCI runtime (a name the backend lists, such as <c>runsc</c>); null for its default.</summary>
    public string? Runtime { get; init; }
}

/// <summary>Which task a box belongs to and what it is for; with the site's scope and run, what the backend labels it with.</summary>
/// <param name="TaskId">The task (or <c>environment-setup</c>, <c>environment-run-image</c>); null for a box of no task (the doctor's probe).</param>
/// <param name="Attempt">Which attempt of its task, for a task run with <c>attempts</c> over 1.</param>
public sealed record BoxIdentity(string? TaskId, int? Attempt = null, BoxPurpose Purpose = BoxPurpose.Task)
{
    /// <summary>The <see cref="Labels.Role"/> a box of this purpose carries; task, setup and image boxes carry none.</summary>
    public string? Role => Purpose switch
    {
        BoxPurpose.Verify => Labels.VerifyRole,
        BoxPurpose.Probe => Labels.ProbeRole,
        _ => null,
    };
}

/// <summary>
/// What a box is for. <see cref="Task"/>: an agent. <see cref="Verify"/>: a task's verify commands, run in it one by
/// one. <see cref="Setup"/>: an environment's setup, committed afterwards. <see cref="Image"/>: never started, filled
/// and committed as an image. <see cref="Probe"/>: the doctor's look at a runtime.
/// </summary>
public enum BoxPurpose { Task, Verify, Setup, Image, Probe }

/// <summary>A folder of a box's workspace.</summary>
public abstract record BoxMount(string Target)
{
    /// <summary>A folder of this machine at <paramref name="Target"/>: the bind transport's, for a platform that shares this machine's files.</summary>
    public sealed record HostFolder(string Source, string Target, bool ReadOnly) : BoxMount(Target);

    /// <summary>An empty folder of the box's own at <paramref name="Target"/>, filled before it starts and gone with it: the copy transport's.</summary>
    public sealed record Scratch(string Target) : BoxMount(Target);
}

/// <summary>What one box may use: memory (no swap), CPUs, processes, and the size of its <c>/tmp</c>.</summary>
public sealed record ResourceLimits(long MemoryBytes, double Cpus, long Pids, long TmpBytes);

/// <summary>
/// An image's own init (images/codex/sandbox-init.c) as a box's first process instead of the platform's: it alone
/// holds the box's output and starts the command as the spec's user with no capability in any set, over sockets a
/// process of that user cannot reopen and under a seccomp filter against ptrace, so nothing the agent runs can write
/// into the command's output, under runc and gVisor alike.
/// </summary>
/// <param name="Path">Where the image has it.</param>
/// <param name="Undumpable">
/// The command starts with an effective gid other than its real one, which Linux takes as a change of identity and so
/// makes it non-dumpable: the agent's uid cannot open its /proc files or memory. (Bash, which runs every command
/// Codex runs, sets it back, so the agent's own processes are plain uid:gid.)
/// </param>
public sealed record SealedInit(string Path, bool Undumpable)
{
    /// <summary>What the init needs to start the command as another uid with an empty bounding set; it keeps none of them afterwards.</summary>
    public static IReadOnlyList<string> Capabilities { get; } = ["SETUID", "SETGID", "SETPCAP"];

    /// <summary>The uid and gid the init relays output as (RELAY_ID in sandbox-init.c); a task never runs as it.</summary>
    public const uint RelayId = 64999;
}

/// <summary>An image boxes start from, and its sealed init (null when it has none and runs under the platform's).</summary>
public sealed record BoxImage(string Tag, string? Init)
{
    /// <summary>The init a box of this image starts its command through; <paramref name="undumpable"/> for an agent's.</summary>
    public SealedInit? InitFor(bool undumpable) => Init is { } path ? new SealedInit(path, undumpable) : null;
}
