using SandboxRunner.Boxes;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Runs.Transports;

/// <summary>
/// For an engine that cannot see this machine's files: the tree (from the object store, its objects in its <c>.git</c>) and
/// CODEX_HOME go into the box's two scratch folders through the archive API, owned by the image's user from the archive's
/// headers, and what changed comes back the same way into a host folder that holds no checkout. It grows in folders the
/// engine does not measure, so its limits apply when it is copied back.
/// </summary>
internal sealed class CopyTransport(TreeCopy copy, TaskImage image) : ITaskTransport
{
    public UnixOwner BoxOwner => UnixOwner.ImageUser;

    public UnixOwner HostOwner => UnixOwner.CurrentProcess;

    public TaskImage Image => image;

    public bool WritesOwnLayer => false;

    public bool FillsFromObjects => true;

    /// <summary>What the box's <c>/workspace</c> was given, path by path: what its tree is compared with afterwards.</summary>
    private IReadOnlyDictionary<string, TreeLook.HostEntry> _given = new Dictionary<string, TreeLook.HostEntry>();

    public IReadOnlyList<BoxMount> Workspace(Worktree worktree, string home) => copy.TaskVolumes.Select(target => (BoxMount)new BoxMount.Scratch(target)).ToList();

    /// <summary>No checkout: the harvest reads only what comes back (<see cref="Worktree.PrepareSparseAsync"/>).</summary>
    public Task PrepareHostTreeAsync(Worktree worktree, UnixOwner owner, CancellationToken cancellationToken) => worktree.PrepareSparseAsync(cancellationToken);

    public void AddEnvironment(IDictionary<string, string> environment)
    {
    }

    public async Task<bool> FillAsync(ITaskBox box, Worktree worktree, string home, CancellationToken cancellationToken)
    {
        _given = await copy.UploadAsync(box, worktree, home, BoxOwner, cancellationToken);
        return true;
    }

    public Func<CancellationToken, Task<string?>>? Watch(ITaskBox box, Worktree worktree, string home, TaskLimits limits) => null;

    public Task<CopyBack> BringBackAsync(ITaskBox box, Worktree worktree, TaskLimits limits, string taskFolder, CancellationToken cancellationToken) =>
        TreeCopy.DownloadAsync(box, worktree, _given, limits, Path.Combine(taskFolder, ".incoming"), cancellationToken);
}
