using SandboxRunner.Boxes;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Runs.Transports;

/// <summary>
/// An environment's task: the checkout and the setup's artefacts are in the run image's own filesystem
/// (copy-on-write), so only CODEX_HOME and the objects go in, into scratch folders. The task writes into its box's
/// own layer, which the engine measures while it runs (so a task cannot fill the engine's disk), and what changed
/// comes back as a changed tree (<see cref="ChangedTree"/>).
/// </summary>
internal sealed class EnvironmentTransport(PreparedEnvironment prepared, TreeCopy copy) : ITaskTransport
{
    public UnixOwner BoxOwner => UnixOwner.ImageUser;

    public UnixOwner HostOwner => UnixOwner.CurrentProcess;

    public TaskImage Image { get; } = new(prepared.RunImage.Tag, prepared.RunImage.Init);

    public bool WritesOwnLayer => true;

    public IReadOnlyList<BoxMount> Workspace(Worktree worktree, string home) =>
        [new BoxMount.Scratch(CodexCommandLine.Home), new BoxMount.Scratch(copy.ObjectsDir)];

    public void AddEnvironment(IDictionary<string, string> environment)
    {
        // HOME is the image's, where setup left its caches (~/.nuget/packages); git's settings stay in CODEX_HOME.
        environment["HOME"] = SetupRun.Home;
        environment["GIT_CONFIG_GLOBAL"] = $"{CodexCommandLine.Home}/.gitconfig";
    }

    public async Task<bool> FillAsync(ITaskBox box, Worktree worktree, string home, CancellationToken cancellationToken)
    {
        await TreeCopy.UploadFolderAsync(box, CodexCommandLine.Home, home, BoxOwner, cancellationToken);
        await copy.UploadObjectsAsync(box, BoxOwner, cancellationToken);
        return true;
    }

    public Func<CancellationToken, Task<string?>>? Watch(ITaskBox box, Worktree worktree, string home, TaskLimits limits) =>
        async ct => await box.WrittenBytesAsync(ct) is { } written && written > limits.MaxTreeBytes
            ? $"max_tree_bytes ({limits.MaxTreeBytes}): the container's own filesystem layer held {written} bytes"
            : null;

    public Task<CopyBack> BringBackAsync(ITaskBox box, Worktree worktree, TaskLimits limits, string taskFolder, CancellationToken cancellationToken) =>
        ChangedTree.DownloadAsync(box, worktree, prepared.Setup.Artifacts, limits, Path.Combine(taskFolder, ".incoming"), cancellationToken);
}
