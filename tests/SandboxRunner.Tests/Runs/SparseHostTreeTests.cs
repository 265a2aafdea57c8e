using System.Diagnostics;
using System.Formats.Tar;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// The copy transport's host side without a checkout (issue 26): the runner's index marks every entry of the base commit as
/// it is, only the base commit's links are written, and what the copy-back writes and unmarks is all the harvest reads. For
/// the same changes it must give what a full checkout gives, entry for entry and byte for byte.
/// </summary>
public sealed class SparseHostTreeTests : IDisposable
{
    private static readonly TaskLimits Limits = new(1L << 30, 100_000, 1L << 28, 1L << 28, 1L << 20);

    private readonly string _root = Directory.CreateTempSubdirectory("sr-sparse-").FullName;
    private readonly GitCli _git = new(NullLogger<GitCli>.Instance);

    public void Dispose() => TreeDeletion.Delete(_root);

    [Fact]
    public async Task The_host_side_holds_only_the_git_directory_and_the_base_commits_links_and_an_untouched_tree_changes_nothing()
    {
        var (host, commit) = await RepositoryAsync();
        var worktree = Worktree.Prepare(_git, host, Path.Combine(_root, "task"), commit);

        await worktree.PrepareSparseAsync(CancellationToken.None);
        var changes = await worktree.CollectChangesAsync(Limits, Path.Combine(_root, "p.patch"), CancellationToken.None);

        var onDisk = Directory.EnumerateFileSystemEntries(worktree.WorkPath, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(worktree.WorkPath, p)).Where(p => p != ".git" && !p.StartsWith(".git/", StringComparison.Ordinal));
        Assert.Equal(["lnk", "nested", "nested/up"], onDisk.Order(StringComparer.Ordinal));
        Assert.Equal("src", new FileInfo(Path.Combine(worktree.WorkPath, "lnk")).LinkTarget);
        Assert.Empty(changes.Entries);
        Assert.Equal("", changes.Warnings);
        Assert.Empty(worktree.ChangedGitSettings());
    }

    [Fact]
    public async Task The_same_changes_give_the_same_entries_and_patch_as_a_full_checkout()
    {
        var (host, commit) = await RepositoryAsync();
        var full = await Worktree.CreateAsync(_git, host, Path.Combine(_root, "full"), commit, UnixOwner.CurrentProcess, CancellationToken.None);
        var sparse = Worktree.Prepare(_git, host, Path.Combine(_root, "sparse"), commit);
        await sparse.PrepareSparseAsync(CancellationToken.None);

        // The box's changes, written as the copy-back writes them: a full checkout gets them over its files, the sparse side
        // gets only them (deletions are nothing to write), then has their paths unmarked.
        foreach (var tree in new[] { full.WorkPath, sparse.WorkPath })
        {
            Write(tree, "deep/a/new.txt", "new\n");
            Write(tree, "deep/a/skip.log", "ignored by the base commit's .gitignore, which is not on disk\n");
            Write(tree, "src/app.txt", "changed\n");
            Write(tree, ".gitattributes", "* filter=evil text eol=crlf\n");
            Write(tree, "src/crlf.txt", "a\nb\n");
            File.Delete(Path.Combine(tree, "deep", "a", "old.txt"));
            File.Delete(Path.Combine(tree, "lnk"));
            Directory.CreateDirectory(Path.Combine(tree, "lnk"));
            Write(tree, "lnk/inner.txt", "a folder now\n");
        }

        await sparse.UnskipAsync(["deep/a/new.txt", "deep/a/skip.log", "src/app.txt", ".gitattributes", "src/crlf.txt", "deep/a/old.txt", "lnk"], CancellationToken.None);
        var fromFull = await full.CollectChangesAsync(Limits, Path.Combine(_root, "full.patch"), CancellationToken.None);
        var fromSparse = await sparse.CollectChangesAsync(Limits, Path.Combine(_root, "sparse.patch"), CancellationToken.None);

        Assert.Equal(fromFull.Entries, fromSparse.Entries);
        Assert.Equal(await File.ReadAllBytesAsync(fromFull.PatchFile!), await File.ReadAllBytesAsync(fromSparse.PatchFile!));
        Assert.Equal([".gitattributes", "deep/a/new.txt", "deep/a/old.txt", "lnk", "lnk/inner.txt", "src/app.txt", "src/crlf.txt"], fromSparse.Files.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Roots_named_like_index_records_or_holding_newlines_reach_no_git_input_and_unmark_nothing_else()
    {
        var (host, commit) = await RepositoryAsync();
        var worktree = Worktree.Prepare(_git, host, Path.Combine(_root, "task"), commit);
        await worktree.PrepareSparseAsync(CancellationToken.None);

        await worktree.UnskipAsync(["src/app.txt\nREADME.md", "100644 0123456789012345678901234567890123456789 0\tREADME.md", "../README.md", "README.md/x/.."], CancellationToken.None);
        var changes = await worktree.CollectChangesAsync(Limits, Path.Combine(_root, "p.patch"), CancellationToken.None);

        Assert.Empty(changes.Entries);
    }

    [Fact]
    public async Task The_upload_records_every_entry_it_writes_and_leaves_this_machines_alternates_out()
    {
        var (host, commit) = await RepositoryAsync();
        var worktree = Worktree.Prepare(_git, host, Path.Combine(_root, "task"), commit);
        var pack = Path.Combine(_root, "objects");
        Directory.CreateDirectory(Path.Combine(pack, "pack"));
        await File.WriteAllTextAsync(Path.Combine(pack, "pack", "pack-1.pack"), "pack");
        var recorded = new Dictionary<string, (FileType Type, long Size, bool Executable, string? Link)>(StringComparer.Ordinal);
        using var tar = new MemoryStream();

        await TreeArchiveWriter.WriteFromArchiveAsync(
            tar, worktree.ArchiveAsync, Path.Combine(worktree.WorkPath, ".git"), new HashSet<string> { "index", "objects/info/alternates" },
            [(pack, ".git/objects/")], (path, type, size, executable, link) => recorded[path] = (type, size, executable, link),
            1000, 1000, [new(".git/shallow", "x\n"u8.ToArray())], TreeArchiveWriter.CheckoutTime, CancellationToken.None);

        tar.Position = 0;
        var written = new Dictionary<string, TarEntry>(StringComparer.Ordinal);
        using (var reader = new System.Formats.Tar.TarReader(tar))
        {
            while (reader.GetNextEntry(copyData: true) is { } entry)
            {
                written[entry.Name.TrimEnd('/')] = entry;
            }
        }

        Assert.Equal(written.Keys.Where(k => k != ".").Order(StringComparer.Ordinal), recorded.Keys.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(".git/objects/info/alternates", recorded.Keys);
        Assert.Equal((FileType.Regular, 4L, false, (string?)null), recorded[".git/objects/pack/pack-1.pack"]);
        Assert.Equal((FileType.Symlink, 0L, true, "src"), recorded["lnk"]);
        Assert.True(recorded["tool.sh"].Executable);
        Assert.Equal(written["src/app.txt"].Length, recorded["src/app.txt"].Size);
    }

    /// <summary>A repository with a .gitignore, nested folders, an executable, and links (one to a folder, one nested).</summary>
    private async Task<(HostRepository Host, string Commit)> RepositoryAsync()
    {
        var repo = Path.Combine(_root, "repo");
        Directory.CreateDirectory(repo);
        Git(repo, "init", "-q");
        Write(repo, ".gitignore", "*.log\n");
        Write(repo, "README.md", "# repo\n");
        Write(repo, "src/app.txt", "app\n");
        Write(repo, "deep/a/old.txt", "old\n");
        Write(repo, "tool.sh", "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(repo, "tool.sh"), (UnixFileMode)0b111_101_101);
        File.CreateSymbolicLink(Path.Combine(repo, "lnk"), "src");
        Directory.CreateDirectory(Path.Combine(repo, "nested"));
        File.CreateSymbolicLink(Path.Combine(repo, "nested", "up"), "../README.md");
        Git(repo, "add", "-A");
        Git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base");
        return (await HostRepository.OpenAsync(_git, repo, CancellationToken.None), Git(repo, "rev-parse", "HEAD").Trim());
    }

    private static void Write(string root, string relative, string content)
    {
        var full = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
    }

    private static string Git(string directory, params string[] args) => RunnerTestBed.RunGit(directory, args);
}
