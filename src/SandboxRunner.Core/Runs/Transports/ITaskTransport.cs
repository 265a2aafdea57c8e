using SandboxRunner.Boxes;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Runs.Transports;

/// <summary>
/// How a task's tree reaches its box and comes back: bind-mounted from this machine (<see cref="BindTransport"/>),
/// copied into scratch folders through the archive API (<see cref="CopyTransport"/>), or already in an environment's
/// run image with only CODEX_HOME and the objects copied in (<see cref="EnvironmentTransport"/>). Chosen once per
/// task (<see cref="TaskTransports.For"/>), so the task pipeline has no branch per transport.
/// </summary>
internal interface ITaskTransport
{
    /// <summary>Who owns the tree inside the box.</summary>
    UnixOwner BoxOwner { get; }

    /// <summary>Who owns the host's checkout and CODEX_HOME: the box's owner when the box sees them, else this process.</summary>
    UnixOwner HostOwner { get; }

    /// <summary>The image the task's box starts from.</summary>
    TaskImage Image { get; }

    /// <summary>Whether the task writes its checkout into its box's own filesystem, which then cannot be read-only.</summary>
    bool WritesOwnLayer { get; }

    /// <summary>
    /// Whether <see cref="FillAsync"/> reads only the object store and the prepared git directories, never the host's checkout, so
    /// the checkout may be written meanwhile (<see cref="Worktree.Prepare"/>); it is complete before the agent starts.
    /// </summary>
    bool FillsFromObjects => false;

    /// <summary>
    /// Writes the host's side of the task into the prepared folder (<see cref="Worktree.Prepare"/>) while the box is made and
    /// filled, when <see cref="FillsFromObjects"/>: a checkout by default; what the harvest then reads.
    /// </summary>
    Task PrepareHostTreeAsync(Worktree worktree, UnixOwner owner, CancellationToken cancellationToken) => worktree.CheckOutFilesAsync(owner, cancellationToken);

    /// <summary>The box's workspace: folders of this machine, or scratch folders <see cref="FillAsync"/> fills.</summary>
    IReadOnlyList<BoxMount> Workspace(Worktree worktree, string home);

    /// <summary>Variables the transport sets in the task's environment (after the runner's own).</summary>
    void AddEnvironment(IDictionary<string, string> environment);

    /// <summary>Puts the tree into the created box before it starts; true when it did, so the tree may come back.</summary>
    Task<bool> FillAsync(ITaskBox box, Worktree worktree, string home, CancellationToken cancellationToken);

    /// <summary>What to measure while the task runs, returning the limit it passed; null when nothing can be measured then.</summary>
    Func<CancellationToken, Task<string?>>? Watch(ITaskBox box, Worktree worktree, string home, TaskLimits limits);

    /// <summary>Brings the task's tree back into <paramref name="worktree"/> after it exited, bounded by <paramref name="limits"/>.</summary>
    Task<CopyBack> BringBackAsync(ITaskBox box, Worktree worktree, TaskLimits limits, string taskFolder, CancellationToken cancellationToken);
}

/// <summary>Picks a task's transport.</summary>
internal static class TaskTransports
{
    /// <summary>An environment's task starts from its run image; otherwise the run's choice (copy when the engine cannot see this machine's files).</summary>
    public static ITaskTransport For(TaskContext context, TaskPlan task) =>
        context.EnvironmentOf(task) is { } prepared ? new EnvironmentTransport(prepared, context.Pack!)
        : context.Copy is { } copy ? new CopyTransport(copy, context.Image)
        : new BindTransport(context.Repository, context.Image, context.Run.SandboxMode == SandboxMode.ReadOnly);
}
