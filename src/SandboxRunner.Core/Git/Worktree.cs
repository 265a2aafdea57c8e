using SandboxRunner.Platform;

namespace SandboxRunner.Git;

/// <summary>
/// One task's checkout of the base commit, detached, in a folder the runner owns.
/// <para>
/// It is a standalone repository, not a <c>git worktree</c>: its <c>.git</c> is a real folder whose object
/// store borrows the host's objects through <c>objects/info/alternates</c>. The container gets this folder
/// and the host's <c>objects/</c> read-only at the same path, so git inside works fully (status, diff,
/// commits land in the task's own objects) while the host's config, hooks and refs are never mounted. A
/// linked worktree would need the host's <c>.git/worktrees/NAME</c> writable and its <c>.git</c> file
/// points at a host path.
/// </para>
/// <para>
/// Everything under <c>work/</c> belongs to the agent afterwards. The host reads results through
/// <c>host.git</c>, a second git directory beside it that the container never sees, with untrusted git.
/// </para>
/// </summary>
/// <remarks>
/// Split by job: this file makes, opens and removes the checkout; <c>Worktree.Changes.cs</c> reads what the task
/// changed (diff, patch, ignore rules, apply check); <c>Worktree.GitSettings.cs</c> fingerprints the agent's git
/// settings. Every git call goes through <see cref="GitCli"/>: on the agent's git directory before the run through
/// <see cref="RunAgentGitAsync"/>, the runner's own reads through <see cref="RunHostGitAsync"/>.
/// </remarks>
public sealed partial class Worktree
{
    private readonly GitCli _git;

    private IReadOnlyDictionary<string, string> _gitSettings = new Dictionary<string, string>();

    private Worktree(GitCli git, string folder, string baseCommit)
    {
        _git = git;
        Folder = folder;
        BaseCommit = baseCommit;
        _content = baseCommit;
    }

    /// <summary>The folder that holds the checkout and the runner's own git directory.</summary>
    public string Folder { get; }

    /// <summary>The checkout, mounted into the container.</summary>
    public string WorkPath => Path.Combine(Folder, "work");

    public string BaseCommit { get; }

    private string HostGitDir => Path.Combine(Folder, "host.git");

    /// <summary>An existing task folder, left by a server that is gone, opened to read its changes.</summary>
    public static Worktree Open(GitCli git, string folder, string baseCommit)
    {
        var worktree = new Worktree(git, folder, baseCommit);
        if (File.Exists(worktree.BaselineFile))
        {
            worktree._gitSettings = File.ReadAllLines(worktree.BaselineFile)
                .Select(line => line.Split('\t', 2))
                .Where(parts => parts.Length == 2)
                .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);
        }

        return worktree;
    }

    /// <summary>The agent's git settings as they were at checkout, in the runner's own git directory.</summary>
    private string BaselineFile => Path.Combine(HostGitDir, "sandbox-runner-settings");

    /// <summary>
    /// Checks out <paramref name="baseCommit"/> into <c>folder/work</c>, owned by <paramref name="owner"/>. With
    /// <paramref name="contentCommit"/> (a task's result commit, for its verification) the files are that
    /// commit's while HEAD and the index stay at the base commit: the tree as the agent left it, as far as it was kept.
    /// </summary>
    public static async Task<Worktree> CreateAsync(
        GitCli git, HostRepository repository, string folder, string baseCommit, UnixOwner owner, CancellationToken cancellationToken, string? contentCommit = null)
    {
        var worktree = Prepare(git, repository, folder, baseCommit, contentCommit);
        await worktree.CheckOutFilesAsync(owner, cancellationToken);
        return worktree;
    }

    /// <summary>
    /// The two git directories only, written at once; <see cref="CheckOutFilesAsync"/> then fills
    /// the checkout. Between the two the runner's own git directory already reads the base commit (<see cref="ArchiveAsync"/>).
    /// </summary>
    public static Worktree Prepare(GitCli git, HostRepository repository, string folder, string baseCommit, string? contentCommit = null)
    {
        var worktree = new Worktree(git, folder, baseCommit) { _content = contentCommit ?? baseCommit };
        WriteGitDir(worktree.AgentGitDir, repository.ObjectsDir, baseCommit);
        WriteGitDir(worktree.HostGitDir, repository.ObjectsDir, baseCommit);

        // The harvest's own excludes: what an interpreter writes when the agent runs the tests is never a change of the
        // task's (an honest `python -m pytest` in a repository whose .gitignore forgot __pycache__ was a path violation).
        // Only untracked files are concerned: a tracked one that changes is harvested as ever.
        File.WriteAllText(Path.Combine(worktree.HostGitDir, "info", "exclude"), string.Join('\n', InterpreterCaches) + "\n");
        return worktree;
    }

    /// <summary>Checks the files out into the prepared folder, owned by <paramref name="owner"/>, with fresh indexes and the settings baseline.</summary>
    public async Task CheckOutFilesAsync(UnixOwner owner, CancellationToken cancellationToken)
    {
        var worktree = this;
        var agentGitDir = AgentGitDir;

        // Written by the sandbox user itself there is nothing to chown, and both indexes are fresh.
        var writtenByOwner = !owner.IsCurrentProcess && await worktree.TryCheckOutAsAsync(owner, cancellationToken);
        if (!writtenByOwner)
        {
            await worktree.CheckOutAsync(runAs: null, cancellationToken);
        }

        if (worktree._content != BaseCommit)
        {
            await worktree.ResetIndexAsync(writtenByOwner ? owner : null, cancellationToken);
        }

        File.Copy(Path.Combine(agentGitDir, "index"), Path.Combine(worktree.HostGitDir, "index"));
        worktree._gitSettings = GitSettingsFingerprint(agentGitDir);

        // Kept where the container never reaches, so a tree recovered by a later server is compared
        // with what it started from, not with nothing.
        await File.WriteAllLinesAsync(
            worktree.BaselineFile, worktree._gitSettings.Select(kv => $"{kv.Key}\t{kv.Value}"), cancellationToken);
        if (!owner.IsCurrentProcess && !writtenByOwner)
        {
            // chown moved every file's ctime and owner; re-stat once now so the diff after the run
            // hashes only what the agent touched, and give the agent the same fresh index so its first
            // `git status` does not hash the whole tree again.
            await owner.TakeOwnershipAsync([worktree.WorkPath], cancellationToken);
            await worktree.RunHostGitAsync(["update-index", "-q", "--refresh"], cancellationToken, acceptedExitCodes: [0, 1]);
            var agentIndex = Path.Combine(agentGitDir, "index");
            File.Copy(Path.Combine(worktree.HostGitDir, "index"), agentIndex, overwrite: true);
            await owner.TakeOwnershipAsync([agentIndex], cancellationToken);
        }
    }

    /// <summary>
    /// The base commit's tree as a tar (<c>git archive</c>) handed to <paramref name="read"/> as git writes it, read through the
    /// runner's own git directory with no user config and every attribute unset (no export-ignore, export-subst or eol
    /// conversion): the files a checkout writes, straight from the object store.
    /// </summary>
    public Task ArchiveAsync(Func<Stream, CancellationToken, Task> read, CancellationToken cancellationToken) =>
        _git.RunAsync(
            new GitCall(Folder, ["archive", "--format=tar", BaseCommit])
            {
                Trust = GitTrust.Untrusted,
                Environment = new Dictionary<string, string> { ["GIT_DIR"] = HostGitDir },
                ReadStdout = read,
            },
            cancellationToken);

    /// <summary>An index of the base commit with no stat data (<c>read-tree</c> into a scratch file): the agent's git refreshes it on first use.</summary>
    public async Task<byte[]> FreshIndexAsync(CancellationToken cancellationToken)
    {
        var index = Path.Combine(Folder, $"fresh-{Guid.NewGuid():N}.index");
        try
        {
            await _git.RunAsync(
                new GitCall(Folder, ["read-tree", BaseCommit])
                {
                    Trust = GitTrust.Untrusted,
                    Environment = new Dictionary<string, string> { ["GIT_DIR"] = HostGitDir, ["GIT_INDEX_FILE"] = index },
                },
                cancellationToken);
            return await File.ReadAllBytesAsync(index, cancellationToken);
        }
        finally
        {
            File.Delete(index);
        }
    }

    private string AgentGitDir => Path.Combine(WorkPath, ".git");

    /// <summary>
    /// The checkout itself. The host repository is trusted until the agent runs, but this reads only the
    /// repository's committed content, so user-level filters cannot make task trees differ.
    /// </summary>
    private Task<GitOutput> CheckOutAsync(UnixOwner? runAs, CancellationToken cancellationToken) =>
        RunAgentGitAsync(["read-tree", "--reset", "-u", _content], runAs, cancellationToken);

    /// <summary>The index back at the base commit, the files left as they are (a content commit's).</summary>
    private Task<GitOutput> ResetIndexAsync(UnixOwner? runAs, CancellationToken cancellationToken) =>
        RunAgentGitAsync(["read-tree", "--reset", BaseCommit], runAs, cancellationToken);

    /// <summary>Git on the agent's own git directory, before the agent runs: the checkout and its index.</summary>
    private Task<GitOutput> RunAgentGitAsync(IReadOnlyList<string> args, UnixOwner? runAs, CancellationToken cancellationToken) =>
        _git.RunAsync(
            new GitCall(WorkPath, args)
            {
                Trust = GitTrust.Untrusted,
                RunAs = runAs,
                Environment = new Dictionary<string, string> { ["GIT_DIR"] = AgentGitDir, ["GIT_WORK_TREE"] = WorkPath },
            },
            cancellationToken);

    /// <summary>The commit whose files the checkout holds: the base commit, or a content commit (see <see cref="CreateAsync"/>).</summary>
    private string _content;

    /// <summary>
    /// As root, checks the tree out as the sandbox user directly (half the cost of checking out and then
    /// chown-ing and re-hashing 50k files). Not possible when that user cannot reach the repository's
    /// objects on the host (say, a repository under a 0700 /root): then the caller falls back.
    /// </summary>
    private async Task<bool> TryCheckOutAsAsync(UnixOwner owner, CancellationToken cancellationToken)
    {
        if (UnixOwner.CurrentProcess.Uid != 0 || !File.Exists("/usr/bin/setpriv"))
        {
            return false;
        }

        await owner.TakeOwnershipAsync([WorkPath], cancellationToken);
        try
        {
            await CheckOutAsync(owner, cancellationToken);
            return true;
        }
        catch (GitException)
        {
            // Root checks out over whatever was written, and the fallback chowns it all again.
            return false;
        }
    }

    /// <summary>Removes the checkout and the runner's git directory.</summary>
    public void Delete() => TreeDeletion.Delete(Folder);

    /// <summary>Untrusted git through the runner's own git directory (<c>host.git</c>) over the checkout: every read of what the task left.</summary>
    private async Task<GitOutput> RunHostGitAsync(
        IReadOnlyList<string> args, CancellationToken cancellationToken, IReadOnlyList<int>? acceptedExitCodes = null,
        string? stdoutFile = null, long maxStdoutBytes = GitCli.DefaultMaxStdoutBytes, byte[]? stdin = null) =>
        await _git.RunAsync(
            new GitCall(WorkPath, args)
            {
                Trust = GitTrust.Untrusted,
                Environment = new Dictionary<string, string> { ["GIT_DIR"] = HostGitDir, ["GIT_WORK_TREE"] = WorkPath },
                Stdin = stdin,
                AcceptedExitCodes = acceptedExitCodes ?? [0],
                StdoutFile = stdoutFile,
                MaxStdoutBytes = maxStdoutBytes,
            },
            cancellationToken);

    /// <summary>A minimal git directory, written directly: <c>git init</c> would copy the user's templates (hooks included).</summary>
    /// <summary>Caches interpreters and test runners write beside the code, never source: left out of every harvest (docs/policies.md).</summary>
    public static readonly IReadOnlyList<string> InterpreterCaches = ["__pycache__/", "*.py[cod]", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/"];

    private static void WriteGitDir(string gitDir, string hostObjects, string head)
    {
        Directory.CreateDirectory(Path.Combine(gitDir, "objects", "info"));
        Directory.CreateDirectory(Path.Combine(gitDir, "refs", "heads"));
        Directory.CreateDirectory(Path.Combine(gitDir, "refs", "tags"));
        File.WriteAllText(Path.Combine(gitDir, "HEAD"), head + "\n");
        File.WriteAllText(Path.Combine(gitDir, "config"), "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n");
        File.WriteAllText(Path.Combine(gitDir, "objects", "info", "alternates"), hostObjects + "\n");

        // $GIT_DIR/info/attributes wins over every .gitattributes in the tree: for the runner's reads the
        // agent's attributes are unset, so `* -diff` cannot turn a text change into an opaque binary
        // patch, and no eol or filter conversion changes what is harvested. (The agent's own git
        // directory gets the same file; it may rewrite it, which is reported as a settings change.)
        Directory.CreateDirectory(Path.Combine(gitDir, "info"));
        File.WriteAllText(Path.Combine(gitDir, "info", "attributes"), "* !diff !text !eol !crlf !ident !filter !working-tree-encoding !merge !export-subst !export-ignore !binary\n");
    }
}
