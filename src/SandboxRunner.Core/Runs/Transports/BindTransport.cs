using SandboxRunner.Boxes;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Runs.Transports;

/// <summary>
/// The tree stays on this machine and is mounted into the box: the checkout at /workspace (read-only under
/// <c>read-only</c>), the host's objects read-only at their own path (so the alternates resolve on both sides),
/// and CODEX_HOME. Nothing travels, and the trees are measured on the host while the task runs.
/// </summary>
internal sealed class BindTransport(HostRepository repository, TaskImage image, bool readOnlyTree) : ITaskTransport
{
    public UnixOwner BoxOwner { get; } = UnixOwner.ForSandbox();

    public UnixOwner HostOwner => BoxOwner;

    public TaskImage Image => image;

    public bool WritesOwnLayer => false;

    public IReadOnlyList<BoxMount> Workspace(Worktree worktree, string home) =>
    [
        new BoxMount.HostFolder(worktree.WorkPath, CodexCommandLine.Workspace, ReadOnly: readOnlyTree),
        new BoxMount.HostFolder(repository.ObjectsDir, repository.ObjectsDir, ReadOnly: true),
        new BoxMount.HostFolder(home, CodexCommandLine.Home, ReadOnly: false),
    ];

    public void AddEnvironment(IDictionary<string, string> environment)
    {
    }

    public Task<bool> FillAsync(ITaskBox box, Worktree worktree, string home, CancellationToken cancellationToken) =>
        Task.FromResult(false);

    public Func<CancellationToken, Task<string?>>? Watch(ITaskBox box, Worktree worktree, string home, TaskLimits limits) =>
        ct => Task.FromResult(TreeScan.Measure([worktree.WorkPath, home], limits, ct).OverLimit);

    public Task<CopyBack> BringBackAsync(ITaskBox box, Worktree worktree, TaskLimits limits, string taskFolder, CancellationToken cancellationToken) =>
        Task.FromResult(CopyBack.Nothing);
}
