using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.Platform;

namespace SandboxRunner.Git;

/// <summary>One changed path as <c>git diff --raw</c> reports it: the new mode and blob ("000000" modes and a zero id when deleted).</summary>
public sealed record ChangedEntry(string Path, char Status, string OldMode, string NewMode, string NewBlob)
{
    public bool IsDeleted => Status == 'D';
    public bool IsGitlink => NewMode == "160000";
}

/// <summary>
/// Which paths a task changed and the patch that makes the change, both read from its tree. The patch is
/// in <see cref="PatchFile"/> (null when there is none, or it passed <c>max_patch_bytes</c>); the blobs of
/// every entry are in the runner's git directory for the tree, ready for the result branch.
/// </summary>
public sealed record TreeChanges(
    IReadOnlyList<ChangedEntry> Entries,
    string? PatchFile,
    long PatchBytes,
    string Warnings,
    IReadOnlyList<TreeFinding> Findings,
    string? OverLimit = null)
{
    public IReadOnlyList<string> Files => Entries.Select(e => e.Path).ToList();

    public static TreeChanges None { get; } = new([], null, 0, "", []);
}

public sealed record ApplyCheck(bool Applies, string Log);

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
public sealed class Worktree
{
    private readonly GitCli _git;

    /// <summary>
    /// Parts of the agent's own <c>.git</c> that ordinary git use writes (objects, refs, index, logs...).
    /// Everything else in it (config, hooks, info/attributes) is settings: a change there is reported.
    /// </summary>
    private static readonly HashSet<string> GitDataEntries = new(StringComparer.Ordinal)
    {
        "objects", "refs", "logs", "index", "HEAD", "ORIG_HEAD", "FETCH_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD",
        "COMMIT_EDITMSG", "MERGE_MSG", "SQUASH_MSG", "packed-refs", "rebase-merge", "rebase-apply", "sequencer", "AUTO_MERGE",
        "description", "gitk.cache", "index.lock", "BISECT_LOG",

        // The copy transport's task repository is a shallow clone of the base commit.
        "shallow",
    };

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
        var worktree = new Worktree(git, folder, baseCommit) { _content = contentCommit ?? baseCommit };
        var agentGitDir = worktree.AgentGitDir;
        WriteGitDir(agentGitDir, repository.ObjectsDir, baseCommit);
        WriteGitDir(worktree.HostGitDir, repository.ObjectsDir, baseCommit);

        // Written by the sandbox user itself there is nothing to chown, and both indexes are fresh.
        var writtenByOwner = !owner.IsCurrentProcess && await worktree.TryCheckOutAsAsync(owner, cancellationToken);
        if (!writtenByOwner)
        {
            await worktree.CheckOutAsync(runAs: null, cancellationToken);
        }

        if (worktree._content != baseCommit)
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

        return worktree;
    }

    private string AgentGitDir => Path.Combine(WorkPath, ".git");

    /// <summary>
    /// The checkout itself. The host repository is trusted until the agent runs, but this reads only the
    /// repository's committed content, so user-level filters cannot make task trees differ.
    /// </summary>
    private Task<GitOutput> CheckOutAsync(UnixOwner? runAs, CancellationToken cancellationToken) =>
        _git.RunAsync(
            new GitCall(WorkPath, ["read-tree", "--reset", "-u", _content])
            {
                Trust = GitTrust.Untrusted,
                RunAs = runAs,
                Environment = new Dictionary<string, string> { ["GIT_DIR"] = AgentGitDir, ["GIT_WORK_TREE"] = WorkPath },
            },
            cancellationToken);

    /// <summary>The index back at the base commit, the files left as they are (a content commit's).</summary>
    private Task<GitOutput> ResetIndexAsync(UnixOwner? runAs, CancellationToken cancellationToken) =>
        _git.RunAsync(
            new GitCall(WorkPath, ["read-tree", "--reset", BaseCommit])
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

    /// <summary>
    /// Everything that differs from the base commit: modified, added (untracked, not ignored), deleted and
    /// binary files, as a patch <c>git apply</c> accepts, written to <paramref name="patchFile"/>. Reads the
    /// tree with untrusted git through the runner's own git directory, so nothing the agent planted in
    /// <c>work/.git</c> runs or applies. First the tree is prepared (<see cref="TreeScan.Prepare"/>): what
    /// git would block on or what passes the limits is removed and reported, and a tree over its limits is
    /// not read at all. Every git call has a deadline and bounded output.
    /// </summary>
    public async Task<TreeChanges> CollectChangesAsync(TaskLimits limits, string patchFile, CancellationToken cancellationToken)
    {
        var (findings, census) = TreeScan.Prepare(WorkPath, limits, cancellationToken);
        if (census.OverLimit is { } over)
        {
            return new TreeChanges([], null, 0, "", findings, over);
        }

        // --ignore-errors: a file the agent made unreadable must not hide every other change.
        var add = await RunHostGitAsync(["add", "--all", "--ignore-errors", "--", "."], cancellationToken, acceptedExitCodes: [0, 1, 128]);
        var raw = await RunHostGitAsync(["diff", "--cached", "--raw", "-z", "--no-renames", "--full-index", "--no-abbrev", BaseCommit], cancellationToken);
        var entries = ParseRaw(raw.Text);
        string? patch = patchFile;
        long patchBytes = 0;
        var overPatch = (string?)null;
        try
        {
            await RunHostGitAsync(
                ["diff", "--cached", "--binary", "--full-index", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color", BaseCommit],
                cancellationToken,
                stdoutFile: patchFile,
                maxStdoutBytes: limits.MaxPatchBytes);
            patchBytes = new FileInfo(patchFile).Length;
        }
        catch (GitOutputLimitException)
        {
            File.Delete(patchFile);
            patch = null;
            overPatch = $"max_patch_bytes ({limits.MaxPatchBytes})";
        }

        return new TreeChanges(entries, patchBytes > 0 || overPatch is not null ? patch : null, patchBytes, add.ExitCode == 0 ? "" : add.Stderr.Trim(), findings, overPatch);
    }

    /// <summary>
    /// Which of <paramref name="paths"/> (relative; a trailing <c>/</c> marks a folder) the base commit's
    /// <c>.gitignore</c> files ignore. Asked of the checkout as it was made, before any of the task's changes
    /// reach it, through the runner's own git directory with no user config (no global excludes file).
    /// </summary>
    public async Task<IReadOnlySet<string>> IgnoredAtBaseAsync(IReadOnlyCollection<string> paths, CancellationToken cancellationToken)
    {
        if (paths.Count == 0)
        {
            return new HashSet<string>();
        }

        var output = await _git.RunAsync(
            new GitCall(WorkPath, ["check-ignore", "--no-index", "-z", "--stdin"])
            {
                Trust = GitTrust.Untrusted,
                Environment = new Dictionary<string, string> { ["GIT_DIR"] = HostGitDir, ["GIT_WORK_TREE"] = WorkPath },
                Stdin = Encoding.UTF8.GetBytes(string.Concat(paths.Select(p => p + "\0"))),
                AcceptedExitCodes = [0, 1],
            },
            cancellationToken);
        return output.Text.Split('\0', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Files among the agent's git settings (<c>.git/config</c>, hooks, info/...) that the task added, changed
    /// or removed. The host never reads them; they are reported because planting them is what a hostile
    /// agent does (Codex 0.169 was seen setting core.fsmonitor).
    /// </summary>
    public IReadOnlyList<string> ChangedGitSettings()
    {
        var now = GitSettingsFingerprint(AgentGitDir);
        return now.Keys.Union(_gitSettings.Keys)
            .Where(k => !now.TryGetValue(k, out var a) || !_gitSettings.TryGetValue(k, out var b) || a != b)
            .Order(StringComparer.Ordinal)
            .Select(k => ".git/" + k)
            .ToList();
    }

    private const int MaxSettingsEntries = 10_000;
    private const long MaxSettingsFileBytes = 1024 * 1024;

    /// <summary>Hashes of every settings file in a git directory, read without following symlinks (a link is recorded by its target).</summary>
    private static Dictionary<string, string> GitSettingsFingerprint(string gitDir)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var root = new DirectoryInfo(gitDir);
        if (root.LinkTarget is not null || !root.Exists)
        {
            result["."] = "replaced: " + (root.LinkTarget ?? "missing");
            return result;
        }

        // Bounded like every read of the agent's files: iterative, at most 32 folders deep and 10,000
        // entries, and a file over 1 MiB is recorded by its size instead of read (a settings file that
        // large is itself a change worth reporting; a sparse 300 GB one must not stall the harvest).
        var pending = new Stack<(DirectoryInfo Dir, string Prefix, int Depth)>();
        pending.Push((root, "", 0));
        while (pending.Count > 0 && result.Count < MaxSettingsEntries)
        {
            var (dir, prefix, depth) = pending.Pop();
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = dir.EnumerateFileSystemInfos();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                result[prefix.Length == 0 ? "." : prefix] = "unreadable";
                continue;
            }

            foreach (var entry in entries)
            {
                var name = prefix + entry.Name;
                if (result.Count >= MaxSettingsEntries)
                {
                    result["(more)"] = "too many entries";
                    break;
                }

                if (prefix.Length == 0 && GitDataEntries.Contains(entry.Name))
                {
                    continue;
                }

                var (type, size) = FileKind.Of(entry.FullName);
                if (type == FileType.Symlink)
                {
                    result[name] = "link: " + entry.LinkTarget;
                }
                else if (type == FileType.Directory)
                {
                    if (depth >= 32)
                    {
                        result[name] = "too deep";
                    }
                    else
                    {
                        pending.Push(((DirectoryInfo)entry, name + "/", depth + 1));
                    }
                }
                else if (type != FileType.Regular)
                {
                    result[name] = "special: " + type;
                }
                else if (size > MaxSettingsFileBytes)
                {
                    result[name] = "oversized: " + size;
                }
                else
                {
                    using var stream = UntrustedFile.OpenRead(entry.FullName);
                    result[name] = stream is null ? "unreadable" : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream));
                }
            }
        }
        return result;
    }

    /// <summary>The path of the runner's own git directory for this tree, for reading the blobs the diff names.</summary>
    internal string ObjectSource => HostGitDir;

    /// <summary>Parses <c>:oldmode newmode oldsha newsha status NUL path NUL</c> records.</summary>
    internal static List<ChangedEntry> ParseRaw(string raw)
    {
        var entries = new List<ChangedEntry>();
        var fields = raw.Split('\0');
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            var meta = fields[i].TrimStart(':').Split(' ');
            if (meta.Length < 5)
            {
                break;
            }

            entries.Add(new ChangedEntry(fields[i + 1], meta[4][0], meta[0], meta[1], meta[3]));
        }

        return entries;
    }

    /// <summary>Whether the patch in <paramref name="patchFile"/> applies to <paramref name="commit"/>, checked in a scratch index.</summary>
    public async Task<ApplyCheck> CheckAppliesAsync(string? patchFile, string commit, CancellationToken cancellationToken)
    {
        if (patchFile is null || !File.Exists(patchFile) || new FileInfo(patchFile).Length == 0)
        {
            return new ApplyCheck(true, "no changes");
        }

        var index = Path.Combine(Folder, $"check-{Guid.NewGuid():N}.index");
        try
        {
            var env = new Dictionary<string, string> { ["GIT_DIR"] = HostGitDir, ["GIT_INDEX_FILE"] = index };
            await _git.RunAsync(new GitCall(Folder, ["read-tree", commit]) { Trust = GitTrust.Untrusted, Environment = env }, cancellationToken);
            var check = await _git.RunAsync(
                new GitCall(Folder, ["apply", "--cached", "--check", "--verbose", "--", patchFile]) { Trust = GitTrust.Untrusted, Environment = env, AcceptedExitCodes = [0, 1, 128] },
                cancellationToken);
            var log = (Encoding.UTF8.GetString(check.Stdout) + check.Stderr).Trim();
            return new ApplyCheck(check.ExitCode == 0, log.Length > ApplyLogChars ? log[..ApplyLogChars] + "\n…" : log);
        }
        finally
        {
            File.Delete(index);
        }
    }

    private const int ApplyLogChars = 8 * 1024;

    /// <summary>Removes the checkout and the runner's git directory.</summary>
    public void Delete() => TreeDeletion.Delete(Folder);

    private async Task<GitOutput> RunHostGitAsync(
        IReadOnlyList<string> args, CancellationToken cancellationToken, IReadOnlyList<int>? acceptedExitCodes = null,
        string? stdoutFile = null, long maxStdoutBytes = GitCli.DefaultMaxStdoutBytes) =>
        await _git.RunAsync(
            new GitCall(WorkPath, args)
            {
                Trust = GitTrust.Untrusted,
                Environment = new Dictionary<string, string> { ["GIT_DIR"] = HostGitDir, ["GIT_WORK_TREE"] = WorkPath },
                AcceptedExitCodes = acceptedExitCodes ?? [0],
                StdoutFile = stdoutFile,
                MaxStdoutBytes = maxStdoutBytes,
            },
            cancellationToken);

    /// <summary>A minimal git directory, written directly: <c>git init</c> would copy the user's templates (hooks included).</summary>
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
        File.WriteAllText(Path.Combine(gitDir, "info", "attributes"), "* !diff !text !eol !crlf !ident !filter !working-tree-encoding !merge !export-subst !binary\n");
    }
}
