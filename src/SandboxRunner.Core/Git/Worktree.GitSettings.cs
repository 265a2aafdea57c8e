using SandboxRunner.Platform;

namespace SandboxRunner.Git;

public sealed partial class Worktree
{
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
}
