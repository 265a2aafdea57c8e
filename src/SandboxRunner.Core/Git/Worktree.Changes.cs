using System.Text;
using SandboxRunner.Configuration;

namespace SandboxRunner.Git;

public sealed partial class Worktree
{
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

        // --ignore-errors: a file the agent made unreadable must not hide every other change. No pathspec (the whole tree, run
        // at its root): over the copy transport's index, where every entry the host does not hold is skip-worktree, a "."
        // that matched nothing else would fail as "outside of your sparse-checkout definition".
        var add = await RunHostGitAsync(["add", "--all", "--ignore-errors"], cancellationToken, acceptedExitCodes: [0, 1, 128]);
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

        var output = await RunHostGitAsync(
            ["check-ignore", "--no-index", "-z", "--stdin"],
            cancellationToken,
            acceptedExitCodes: [0, 1],
            stdin: Encoding.UTF8.GetBytes(string.Concat(paths.Select(p => p + "\0"))));
        return output.Text.Split('\0', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
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
}
