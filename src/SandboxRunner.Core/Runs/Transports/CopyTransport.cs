using SandboxRunner.Boxes;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Runs.Transports;

/// <summary>
/// For an engine that cannot see this machine's files: the checkout, CODEX_HOME and the objects go into scratch
/// folders of the box through the archive API, owned by the image's user from the archive's headers (the host's
/// copy needs no chown), and the tree comes back the same way. It grows in folders the engine does not measure, so
/// its limits apply when it is copied back.
/// </summary>
internal sealed class CopyTransport(TreeCopy copy, TaskImage image) : ITaskTransport
{
    public UnixOwner BoxOwner => UnixOwner.ImageUser;

    public UnixOwner HostOwner => UnixOwner.CurrentProcess;

    public TaskImage Image => image;

    public bool WritesOwnLayer => false;

    public bool FillsFromObjects => true;

    public IReadOnlyList<BoxMount> Workspace(Worktree worktree, string home) => copy.Volumes.Select(target => (BoxMount)new BoxMount.Scratch(target)).ToList();

    public void AddEnvironment(IDictionary<string, string> environment)
    {
    }

    public async Task<bool> FillAsync(ITaskBox box, Worktree worktree, string home, CancellationToken cancellationToken)
    {
        await copy.UploadAsync(box, worktree, home, BoxOwner, cancellationToken);
        return true;
    }

    public Func<CancellationToken, Task<string?>>? Watch(ITaskBox box, Worktree worktree, string home, TaskLimits limits) => null;

    public Task<CopyBack> BringBackAsync(ITaskBox box, Worktree worktree, TaskLimits limits, string taskFolder, CancellationToken cancellationToken) =>
        TreeCopy.DownloadAsync(box, worktree, limits, Path.Combine(taskFolder, ".incoming"), cancellationToken);
}
