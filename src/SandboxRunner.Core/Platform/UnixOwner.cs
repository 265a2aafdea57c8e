using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SandboxRunner.Platform;

/// <summary>
/// The uid:gid a task container runs as, which must own the task's tree so the agent can write it.
/// A non-root host user lends its own ids; root never does: the container gets an unprivileged id instead.
/// </summary>
public sealed record UnixOwner(uint Uid, uint Gid)
{
    /// <summary>The unprivileged user of the task images (uid/gid 1000, named <c>codex</c>).</summary>
    public static UnixOwner ImageUser { get; } = new(1000, 1000);

    public static UnixOwner CurrentProcess { get; } = new(NativeMethods.geteuid(), NativeMethods.getegid());

    public static UnixOwner ForSandbox() => CurrentProcess.Uid == 0 ? ImageUser : CurrentProcess;

    public bool IsCurrentProcess => this == CurrentProcess;

    public override string ToString() => $"{Uid}:{Gid}";

    /// <summary>Gives a tree to this owner without following symlinks out of it (<c>chown -R -h</c>).</summary>
    public async Task TakeOwnershipAsync(IEnumerable<string> paths, CancellationToken cancellationToken)
    {
        if (IsCurrentProcess)
        {
            return;
        }

        var psi = new ProcessStartInfo("chown") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["-R", "-h", ToString(), "--"])
        {
            psi.ArgumentList.Add(arg);
        }

        foreach (var path in paths)
        {
            psi.ArgumentList.Add(path);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("chown could not be started");
        var stderr = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"chown {this} failed: {stderr.Trim()}");
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = false)]
        public static extern uint geteuid();

        [DllImport("libc", SetLastError = false)]
        public static extern uint getegid();
    }
}
