using System.Text;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// The copy transport, for an engine that cannot see this machine's files (a remote engine, Docker in
/// Docker). The box has no host folders: its <c>/workspace</c> and <c>/codex-home</c> are scratch folders of
/// the box (they go with it), filled before it starts through the archive API, one call each. The objects are
/// one pack of the base commit's tree, made once per run, in the task repository's own object store, and the
/// task repository is marked shallow at the base commit, so the agent's git works fully on it. The host makes
/// no checkout (<see cref="Worktree.PrepareSparseAsync"/>); after the container exits, what changed in
/// <c>/workspace</c> comes back through the archive API by <see cref="TreeArchive"/>'s bounded, link-safe
/// extraction, and the harvest reads it exactly as it reads a bind-mounted tree.
/// (Environments and verification boxes still take the objects in a folder of their own: <see cref="UploadObjectsAsync"/>.)
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

    /// <summary>
    /// A task's scratch folders: its <c>/workspace</c> and CODEX_HOME (the base commit's objects travel inside the workspace's
    /// <c>.git</c>, see <see cref="UploadAsync"/>).
    /// </summary>
    public IReadOnlyList<string> TaskVolumes => [CodexCommandLine.Workspace, CodexCommandLine.Home];

    /// <summary>
    /// Fills a created task box's two scratch folders, one archive call each (the engine extracts an archive into one volume
    /// of a box whose root is read-only, so two folders cannot share a call): the tree with its git directory and the base
    /// commit's objects, and CODEX_HOME. For a box that will be looked at (<see cref="ITaskBox.LooksBeside"/>) CODEX_HOME
    /// goes after the tree, with the look's stamp; for one that is read back whole both go at once, and no stamp (nothing
    /// reads it). Returns what the workspace was given, path by path, for the look.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, TreeLook.HostEntry>> UploadAsync(ITaskBox box, Worktree worktree, string home, UnixOwner owner, CancellationToken cancellationToken)
    {
        Task UploadHomeAsync(IReadOnlyList<ExtraFile> extras) =>
            box.PutArchiveAsync(CodexCommandLine.Home, (tar, ct) => TreeArchiveWriter.WriteAsync(tar, home, (int)owner.Uid, (int)owner.Gid, extras, DateTime.UtcNow, ct), cancellationToken);

        if (!box.LooksBeside)
        {
            // Each archive call costs tens of milliseconds through a swarm node's engine: the two overlap.
            var tree = UploadTreeFromObjectsAsync(box, worktree, owner, cancellationToken);
            await Task.WhenAll(tree, UploadHomeAsync([]));
            return await tree;
        }

        var given = await UploadTreeFromObjectsAsync(box, worktree, owner, cancellationToken);

        // After the tree: every uploaded file's change time is before the stamp's (see TreeLook).
        await UploadHomeAsync([new(TreeLook.StampName, "written by sandbox-runner after the task's tree; see TreeLook\n"u8.ToArray()) { RootOwned = true }]);
        return given;
    }

    /// <summary>The base commit's objects into the box's object folder (a scratch folder of it).</summary>
    public async Task UploadObjectsAsync(ITaskBox box, UnixOwner owner, CancellationToken cancellationToken)
    {
        await UploadFolderAsync(box, repository.ObjectsDir, await PackFolderAsync().WaitAsync(cancellationToken), owner, cancellationToken);
    }

    /// <summary>
    /// Starts making the run's pack now, so it is made while the first task's checkout and box are (a one-task run paid
    /// its two git processes on the box's fill). A failure is left for the first task that needs the pack, which retries.
    /// </summary>
    public void StartPack() =>
        _ = PackFolderAsync().ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>The run's pack folder (<c>pack/</c> inside), made by the first task that asks (or <see cref="StartPack"/>).</summary>
    private Task<string> PackFolderAsync()
    {
        lock (_packLock)
        {
            // Made once for every task of the run; a failed attempt is retried by the next task.
            return _pack is { IsFaulted: false, IsCanceled: false } ? _pack : _pack = PackAsync();
        }
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
    /// through the runner's own git directory), while the host side is prepared (<see cref="Worktree.PrepareSparseAsync"/>): its
    /// <c>.git</c> is the agent's git directory as <see cref="Worktree.Prepare"/> wrote it, with an index of the base commit, the
    /// shallow mark and the run's pack of the base commit's objects in its own object store (no <c>alternates</c>: nothing of
    /// this machine is there), stamped <see cref="TreeArchiveWriter.CheckoutTime"/> like <see cref="UploadTreeAsync"/>'s. The
    /// same tree and history the agent saw before; no file of a checkout is read. Returns every entry it wrote.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, TreeLook.HostEntry>> UploadTreeFromObjectsAsync(ITaskBox box, Worktree worktree, UnixOwner owner, CancellationToken cancellationToken)
    {
        var pack = PackFolderAsync();
        var given = new Dictionary<string, TreeLook.HostEntry>(StringComparer.Ordinal);
        await box.PutArchiveAsync(CodexCommandLine.Workspace, async (tar, ct) =>
        {
            // A retried call writes the whole archive again: what the box was given is the last attempt's.
            given.Clear();
            ExtraFile[] extras = [new(".git/index", await worktree.FreshIndexAsync(ct)), new(".git/shallow", Encoding.ASCII.GetBytes(baseCommit + "\n"))];
            (string, string)[] objects = [(await pack.WaitAsync(ct), ".git/objects/")];
            await TreeArchiveWriter.WriteFromArchiveAsync(
                tar, worktree.ArchiveAsync, Path.Combine(worktree.WorkPath, ".git"), CheckoutOwnedNames, objects,
                (path, type, size, executable, link) => given[path] = new TreeLook.HostEntry(type, size, executable, link),
                (int)owner.Uid, (int)owner.Gid, extras, TreeArchiveWriter.CheckoutTime, ct);
        }, cancellationToken);
        return given;
    }

    /// <summary>
    /// What is left out of the agent's git directory as <see cref="Worktree.Prepare"/> wrote it: the index (the box gets a fresh one)
    /// and the alternates, which name this machine's object folder (the box has the objects in its own store).
    /// </summary>
    private static readonly IReadOnlySet<string> CheckoutOwnedNames = new HashSet<string>(StringComparer.Ordinal) { "index", "index.lock", "objects/info/alternates" };

    /// <summary>A host folder's contents into a folder of the box, owned by <paramref name="owner"/>.</summary>
    public static Task UploadFolderAsync(ITaskBox box, string target, string folder, UnixOwner owner, CancellationToken cancellationToken) =>
        box.PutArchiveAsync(target, (tar, ct) => TreeArchiveWriter.WriteAsync(tar, folder, (int)owner.Uid, (int)owner.Gid, [], DateTime.UtcNow, ct), cancellationToken);

    /// <summary>
    /// Brings the container's <c>/workspace</c> back onto the host's side of the task, which holds no checkout (see
    /// <see cref="Worktree.PrepareSparseAsync"/>): looks first (<see cref="TreeLook"/>), compares with what the box was
    /// <paramref name="given"/>, fetches only what changed, within the limits, and unmarks those paths in the runner's index so
    /// the harvest reads them (and nothing else) from disk. Where the platform cannot look, copies the whole tree out as before.
    /// Past a limit the partial copy is removed and the tree is not harvested; a broken archive is a problem, never a crash.
    /// </summary>
    public static async Task<CopyBack> DownloadAsync(
        ITaskBox box, Worktree worktree, IReadOnlyDictionary<string, TreeLook.HostEntry> given, TaskLimits limits, string staging, CancellationToken cancellationToken)
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

        var plan = TreeLook.PlanOf(listed.Entries, listed.Stamp, given, limits);
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

        // The folders above each path, as the box was given them (a checkout would have them); never made through a link.
        foreach (var path in plan.Delete.Concat(plan.Fetch))
        {
            MakeParents(worktree.WorkPath, path);
        }

        var copied = await Environments.ChangedTree.ApplyAsync(box, worktree, plan.Fetch, plan.Delete, plan.Findings, limits, staging, cancellationToken);
        if (copied.OverLimit is not null || copied.Problem is not null)
        {
            TreeDeletion.Delete(worktree.WorkPath);
        }
        else
        {
            await worktree.UnskipAsync([.. plan.Delete, .. plan.Fetch], cancellationToken);
        }

        TreeDeletion.TryDelete(staging);
        return copied;
    }

    /// <summary>Makes the missing folders above <paramref name="relative"/>, stopping at anything that is not a folder (the apply reports it).</summary>
    private static void MakeParents(string root, string relative)
    {
        var segments = relative.Split('/');
        var path = root;
        for (var i = 0; i < segments.Length - 1; i++)
        {
            path = Path.Combine(path, segments[i]);
            var type = FileKind.Of(path).Type;
            if (type == FileType.Missing)
            {
                Directory.CreateDirectory(path);
            }
            else if (type != FileType.Directory)
            {
                return;
            }
        }
    }

    /// <summary>The whole of <c>/workspace</c> through one archive call, extracted over the host's checkout (bounded, link-safe).</summary>
    private static async Task<CopyBack> DownloadWholeAsync(ITaskBox box, Worktree worktree, TaskLimits limits, CancellationToken cancellationToken)
    {
        // Extracted over the host's side of the task (the base commit's links and the agent's git directory as prepared);
        // what is already there unchanged is not written again (see ExistingTree).
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

        // The whole tree is on disk now: the harvest reads all of it.
        await worktree.UnskipAllAsync(cancellationToken);
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
