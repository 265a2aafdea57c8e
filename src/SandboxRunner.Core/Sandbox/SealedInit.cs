namespace SandboxRunner.Sandbox;

/// <summary>
/// The runner's images start every container through their own init (images/codex/sandbox-init.c) instead of
/// the engine's, so that no process the agent runs can write into the program's output, under runc and gVisor
/// alike: the init alone holds the container's stdout and stderr and never runs as the agent's uid, and the
/// program gets sockets (which /proc/&lt;pid&gt;/fd cannot open again) and a seccomp filter against ptrace and
/// process_vm_writev. Docker gives a non-root user no capability to use, so the container starts as root with
/// only what changing uid takes; the init hands the program the spec's user with no capability in any set and
/// gives up its own. Its <c>WorkingDirectory</c> becomes the init's to enter as that user (root without
/// DAC_OVERRIDE could not enter a 0700 folder of the agent's).
/// </summary>
public static class SealedInit
{
    /// <summary>What the init needs to start the program as another uid with an empty bounding set; it keeps none of them afterwards.</summary>
    public static IReadOnlyList<string> Capabilities { get; } = ["SETUID", "SETGID", "SETPCAP"];

    /// <summary>The uid and gid the init relays as once the program runs (RELAY_ID in sandbox-init.c); a task never runs as it.</summary>
    public const uint RelayId = 64999;

    /// <summary>
    /// <paramref name="spec"/> started through <paramref name="init"/>. With <paramref name="undumpable"/>, the program (Codex)
    /// starts with an effective gid other than its real one, which Linux takes as a change of identity and so makes the
    /// process non-dumpable: the agent's uid cannot open its /proc files or memory under runc. (Bash, which runs every
    /// command Codex runs, sets its effective gid back, so the agent's own processes are plain uid:gid.)
    /// </summary>
    public static ContainerSpec Wrap(ContainerSpec spec, string init, bool undumpable) => spec with
    {
        Entrypoint = [init, "--user", spec.User, "--cwd", spec.WorkingDirectory, .. undumpable ? (string[])["--undumpable"] : [], "--"],
        Init = false,
        User = "0:0",
        WorkingDirectory = "/",
        CapAdd = [.. spec.CapAdd, .. Capabilities],
    };
}
