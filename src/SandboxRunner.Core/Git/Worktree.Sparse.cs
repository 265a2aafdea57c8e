using System.Text;

namespace SandboxRunner.Git;

public sealed partial class Worktree
{
    /// <summary>
    /// The host side of a copy task without a checkout: the runner's index is the base commit's (<c>read-tree</c>) with every
    /// entry marked skip-worktree, so the harvest's <c>git add --all</c> takes each one as the base commit has it and reads from
    /// disk only what the copy-back writes and unmarks (<see cref="UnskipAsync"/>); git reads a skip-worktree <c>.gitignore</c>
    /// from the index, so the ignore rules are the tree's as before. Of the files only the base commit's links are written
    /// (a few), so the judge resolves a changed link through an unchanged one as it did on a full checkout. The agent's git
    /// directory is <see cref="Prepare"/>'s, its settings baseline written here as a checkout writes it.
    /// </summary>
    public async Task PrepareSparseAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(WorkPath);
        await RunHostGitAsync(["read-tree", BaseCommit], cancellationToken);
        var entries = ParseStaged((await RunHostGitAsync(["ls-files", "-s", "-z"], cancellationToken, maxStdoutBytes: MaxIndexListingBytes)).Stdout);
        if (entries.Count > 0)
        {
            await RunHostGitAsync(["update-index", "-z", "--skip-worktree", "--stdin"], cancellationToken, stdin: JoinNul(entries.Select(e => e.Path)));
        }

        await WriteLinksAsync(entries.Where(e => e.Mode == "120000").ToList(), cancellationToken);
        _gitSettings = GitSettingsFingerprint(AgentGitDir);
        await File.WriteAllLinesAsync(BaselineFile, _gitSettings.Select(kv => $"{kv.Key}\t{kv.Value}"), cancellationToken);
    }

    /// <summary>
    /// Clears skip-worktree from every index entry at or under one of <paramref name="roots"/> (tree-relative paths
    /// the copy-back deleted or wrote): the harvest then reads them from disk, a missing one as deleted. Only the index's own
    /// names reach git, never the agent's.
    /// </summary>
    public async Task UnskipAsync(IReadOnlyCollection<string> roots, CancellationToken cancellationToken)
    {
        if (roots.Count == 0)
        {
            return;
        }

        // Linear in the index and the roots. A folder above a root needs nothing: it is a folder in the box, so either the
        // base commit has it as one (no entry of its own) or it changed kind and is a root itself.
        var rootSet = new HashSet<string>(roots, StringComparer.Ordinal);
        var listing = (await RunHostGitAsync(["ls-files", "-z"], cancellationToken, maxStdoutBytes: MaxIndexListingBytes)).Stdout;
        var chosen = new List<byte[]>();
        foreach (var path in SplitNul(listing))
        {
            // A name that is not UTF-8 is no root's (the look never fetches one): it stays as the base commit has it.
            if (Platform.StrictUtf8.TryDecode(path, out var name) && AtOrUnder(name, rootSet))
            {
                chosen.Add(path);
            }
        }

        if (chosen.Count > 0)
        {
            await RunHostGitAsync(["update-index", "-z", "--no-skip-worktree", "--stdin"], cancellationToken, stdin: JoinNul(chosen));
        }
    }

    /// <summary>The runner's index back to the base commit with no mark (the whole tree was copied out over the host's folder).</summary>
    public Task UnskipAllAsync(CancellationToken cancellationToken) => RunHostGitAsync(["read-tree", BaseCommit], cancellationToken);

    /// <summary>An index listing longer than this is not read (max_files bounds a task's tree far below it).</summary>
    private const long MaxIndexListingBytes = 256L * 1024 * 1024;

    private static bool AtOrUnder(string path, HashSet<string> roots)
    {
        if (roots.Contains(path))
        {
            return true;
        }

        for (var slash = path.LastIndexOf('/'); slash > 0; slash = path.LastIndexOf('/', slash - 1))
        {
            if (roots.Contains(path[..slash]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The base commit's links, written as a checkout writes them (text never resolved); a name that is not UTF-8 is left out.</summary>
    private async Task WriteLinksAsync(List<(string Mode, string Oid, byte[] Path)> links, CancellationToken cancellationToken)
    {
        if (links.Count == 0)
        {
            return;
        }

        var batch = await RunHostGitAsync(["cat-file", "--batch"], cancellationToken, stdin: Encoding.ASCII.GetBytes(string.Concat(links.Select(l => l.Oid + "\n"))));
        var output = batch.Stdout;
        var at = 0;
        foreach (var link in links)
        {
            var eol = Array.IndexOf(output, (byte)'\n', at);
            var header = Encoding.ASCII.GetString(output, at, eol - at).Split(' ');
            var size = int.Parse(header[2], System.Globalization.CultureInfo.InvariantCulture);
            var target = output.AsSpan(eol + 1, size).ToArray();
            at = eol + 1 + size + 1;
            // The text as .NET reads a checkout's link (not UTF-8: replacement characters), so the judge sees what it saw there;
            // a name .NET cannot spell could not be read on a checkout either.
            var text = Encoding.UTF8.GetString(target);
            if (!Platform.StrictUtf8.TryDecode(link.Path, out var relative) || text.Length == 0 || text.Contains('\0'))
            {
                continue;
            }

            var full = Path.Combine(WorkPath, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.CreateSymbolicLink(full, text);
        }
    }

    /// <summary>Parses <c>ls-files -s -z</c>: <c>mode oid stage TAB path NUL</c>.</summary>
    private static List<(string Mode, string Oid, byte[] Path)> ParseStaged(byte[] listing)
    {
        var entries = new List<(string, string, byte[])>();
        foreach (var record in SplitNul(listing))
        {
            var tab = Array.IndexOf(record, (byte)'\t');
            var meta = Encoding.ASCII.GetString(record, 0, tab).Split(' ');
            entries.Add((meta[0], meta[1], record[(tab + 1)..]));
        }

        return entries;
    }

    private static IEnumerable<byte[]> SplitNul(byte[] bytes)
    {
        var start = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == 0)
            {
                if (i > start)
                {
                    yield return bytes[start..i];
                }

                start = i + 1;
            }
        }
    }

    private static byte[] JoinNul(IEnumerable<byte[]> paths)
    {
        using var joined = new MemoryStream();
        foreach (var path in paths)
        {
            joined.Write(path);
            joined.WriteByte(0);
        }

        return joined.ToArray();
    }

}
