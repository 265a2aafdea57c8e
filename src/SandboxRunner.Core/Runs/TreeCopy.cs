using System.Text;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// The copy transport, for an engine that cannot see this machine's files (a remote engine, Docker in
/// Docker). The box has no host folders: its <c>/workspace</c>, <c>/codex-home</c> and the object
/// folder the task repository's <c>alternates</c> names are scratch folders of the box (they go
/// with it), filled before it starts through the archive API. The objects are one pack of the base
/// commit's tree, made once per run, and the task repository is marked shallow at the base commit, so the
/// agent's git works fully on it. After the container exits, <c>/workspace</c> comes back through the
/// archive API into the host's task folder by <see cref="TreeArchive"/>'s bounded, link-safe extraction,
/// and the harvest reads it exactly as it reads a bind-mounted tree.
/// <para>
/// In <c>read-only</c> sandbox mode the copy is writable inside (the archive API cannot fill a read-only
/// volume) but is never copied back: nothing the agent writes reaches the host.
/// </para>
/// </summary>
public sealed class TreeCopy(GitCli git, HostRepository repository, string runFolder, string baseCommit) : Environments.IRunPack
{
    private readonly Lock _packLock = new();
    private Task<string>? _pack;

    /// <summary>Where the task repository's <c>alternates</c> point: the host's object folder, at the same path inside.</summary>
    public string ObjectsDir => repository.ObjectsDir;

    /// <summary>The container's writable folders, filled before it starts.</summary>
    public IReadOnlyList<string> Volumes => [CodexCommandLine.Workspace, CodexCommandLine.Home, repository.ObjectsDir];

    /// <summary>Fills the created box's scratch folders: the checkout (made shallow), CODEX_HOME, and the base commit's objects.</summary>
    public async Task UploadAsync(ITaskBox box, Worktree worktree, string home, UnixOwner owner, CancellationToken cancellationToken)
    {
        await UploadTreeFromObjectsAsync(box, worktree, owner, cancellationToken);

        // After the tree: every uploaded file's change time is before the stamp's (see TreeLook).
        ExtraFile[] stamp = [new(TreeLook.StampName, "written by sandbox-runner after the task's tree; see TreeLook\n"u8.ToArray()) { RootOwned = true }];
        await box.PutArchiveAsync(CodexCommandLine.Home, (tar, ct) => TreeArchiveWriter.WriteAsync(tar, home, (int)owner.Uid, (int)owner.Gid, stamp, DateTime.UtcNow, ct), cancellationToken);
        await UploadObjectsAsync(box, owner, cancellationToken);
    }

    /// <summary>The base commit's objects into the box's object folder (a scratch folder of it).</summary>
    public async Task UploadObjectsAsync(ITaskBox box, UnixOwner owner, CancellationToken cancellationToken)
    {
        Task<string> making;
        lock (_packLock)
        {
            // Made once for every task of the run; a failed attempt is retried by the next task.
            making = _pack is { IsFaulted: false, IsCanceled: false } ? _pack : _pack = PackAsync();
        }

        await UploadFolderAsync(box, repository.ObjectsDir, await making.WaitAsync(cancellationToken), owner, cancellationToken);
    }

    /// <summary>
    /// The checkout, marked shallow at the base commit, into the box's <c>/workspace</c>, stamped
    /// <see cref="TreeArchiveWriter.CheckoutTime"/> (an environment's run image is this upload committed, and the
    /// engine's change list is blind to a same-size edit in the second its files carry).
    /// </summary>
    public Task UploadTreeAsync(ITaskBox box, Worktree worktree, UnixOwner owner, CancellationToken cancellationToken)
    {
        ExtraFile[] shallow = [new(".git/shallow", Encoding.ASCII.GetBytes(baseCommit + "\n"))];
        return box.PutArchiveAsync(CodexCommandLine.Workspace,
            (tar, ct) => TreeArchiveWriter.WriteAsync(tar, worktree.WorkPath, (int)owner.Uid, (int)owner.Gid, shallow, TreeArchiveWriter.CheckoutTime, ct), cancellationToken);
    }

    /// <summary>
    /// The task's tree into the box's <c>/workspace</c> straight from the object store (<c>git archive</c> of the base commit
    /// through the runner's own git directory), while the host's checkout is still being written: its <c>.git</c> is the agent's
    /// git directory as <see cref="Worktree.Prepare"/> wrote it, with an index of the base commit and the shallow mark, stamped
    /// <see cref="TreeArchiveWriter.CheckoutTime"/> like <see cref="UploadTreeAsync"/>'s. The same tree the agent saw before.
    /// </summary>
    public Task UploadTreeFromObjectsAsync(ITaskBox box, Worktree worktree, UnixOwner owner, CancellationToken cancellationToken) =>
        box.PutArchiveAsync(CodexCommandLine.Workspace, async (tar, ct) =>
        {
            ExtraFile[] extras = [new(".git/index", await worktree.FreshIndexAsync(ct)), new(".git/shallow", Encoding.ASCII.GetBytes(baseCommit + "\n"))];
            await TreeArchiveWriter.WriteFromArchiveAsync(
                tar, worktree.ArchiveAsync, Path.Combine(worktree.WorkPath, ".git"), CheckoutOwnedNames, (int)owner.Uid, (int)owner.Gid, extras, TreeArchiveWriter.CheckoutTime, ct);
        }, cancellationToken);

    /// <summary>What the host's checkout, running meanwhile, writes into the agent's git directory: never read while it may be half written.</summary>
    private static readonly IReadOnlySet<string> CheckoutOwnedNames = new HashSet<string>(StringComparer.Ordinal) { "index", "index.lock" };

    /// <summary>A host folder's contents into a folder of the box, owned by <paramref name="owner"/>.</summary>
    public static Task UploadFolderAsync(ITaskBox box, string target, string folder, UnixOwner owner, CancellationToken cancellationToken) =>
        box.PutArchiveAsync(target, (tar, ct) => TreeArchiveWriter.WriteAsync(tar, folder, (int)owner.Uid, (int)owner.Gid, [], DateTime.UtcNow, ct), cancellationToken);

    /// <summary>
    /// Makes the host's copy of the tree the container's <c>/workspace</c>: looks first (<see cref="TreeLook"/>) and fetches only
    /// what changed, within the limits; where the platform cannot look, copies the whole tree out as before. Past a limit the
    /// partial copy is removed and the tree is not harvested; a broken archive is a problem, never a crash.
    /// </summary>
    public static async Task<CopyBack> DownloadAsync(ITaskBox box, Worktree worktree, TaskLimits limits, string staging, CancellationToken cancellationToken)
    {
        (List<ListedEntry> Entries, FileTime? Stamp)? listing;
        try
        {
            listing = await TreeLook.ListAsync(box, limits.MaxFiles, cancellationToken);
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
        {
            // The look is an optimisation: a platform that refuses it still gets the tree, the old way.
            listing = null;
        }

        if (listing is not { } listed)
        {
            return await DownloadWholeAsync(box, worktree, limits, cancellationToken);
        }

        var plan = TreeLook.PlanOf(listed.Entries, listed.Stamp, TreeLook.ScanHost(worktree.WorkPath), limits);
        if (plan.OverLimit is { } over)
        {
            TreeDeletion.Delete(worktree.WorkPath);
            return new CopyBack(plan.Findings, over, null);
        }

        if (plan.Fetch.Count > Environments.ChangedTree.MaxRoots)
        {
            TreeDeletion.Delete(worktree.WorkPath);
            return new CopyBack(plan.Findings, $"the task changed more than {Environments.ChangedTree.MaxRoots} separate paths", null);
        }

        var copied = await Environments.ChangedTree.ApplyAsync(box, worktree, plan.Fetch, plan.Delete, plan.Findings, limits, staging, cancellationToken);
        if (copied.OverLimit is not null || copied.Problem is not null)
        {
            TreeDeletion.Delete(worktree.WorkPath);
        }

        TreeDeletion.TryDelete(staging);
        return copied;
    }

    /// <summary>The whole of <c>/workspace</c> through one archive call, extracted over the host's checkout (bounded, link-safe).</summary>
    private static async Task<CopyBack> DownloadWholeAsync(ITaskBox box, Worktree worktree, TaskLimits limits, CancellationToken cancellationToken)
    {
        // Extracted over the checkout the copy was made from, not into an empty folder: what the agent left
        // unchanged is not written again (see ExistingTree), which is most of a large tree.
        var bounds = new ExtractionBounds(limits.MaxTreeBytes, limits.MaxFiles, limits.MaxFileBytes, TreeScan.MaxDepth, TreeScan.MaxPathChars);
        ExtractionReport report;
        try
        {
            report = await box.GetArchiveAsync(CodexCommandLine.Workspace,
                (tar, ct) => TreeArchive.ExtractAsync(tar, worktree.WorkPath, Path.GetFileName(CodexCommandLine.Workspace), bounds, ct), cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            TreeDeletion.Delete(worktree.WorkPath);
            return new CopyBack([], null, $"copying the tree out of the container failed: {e.Message}");
        }

        var findings = report.Skipped.Select(s => Environments.ChangedTree.FindingOf(s)).ToList();
        if (report.OverLimit is { } over)
        {
            TreeDeletion.Delete(worktree.WorkPath);
            return new CopyBack(findings, over, null);
        }

        return new CopyBack(findings, null, null);
    }

    /// <summary>
    /// One pack of every object of the base commit's tree (not its history: the copy is shallow), made
    /// by trusted git from the host repository once per run and shared by its tasks.
    /// </summary>
    private async Task<string> PackAsync()
    {
        // Not cancelled by the task that happens to start it: its siblings wait for the same pack
        // (git's own deadline bounds it).
        // A leading dot: never a task id, so recovery never takes it for a task folder.
        var folder = Path.Combine(runFolder, $".objects-{baseCommit[..12]}-{Guid.NewGuid():N}");
        var packDir = Path.Combine(folder, "pack");
        Directory.CreateDirectory(packDir);
        var objects = await git.RunAsync(new GitCall(repository.Root, ["rev-list", "--objects", "--no-walk", baseCommit]), CancellationToken.None);
        await git.RunAsync(
            new GitCall(repository.Root, ["pack-objects", "-q", "--window=0", Path.Combine(packDir, "pack")]) { Stdin = objects.Stdout },
            CancellationToken.None);
        return folder;
    }
}
