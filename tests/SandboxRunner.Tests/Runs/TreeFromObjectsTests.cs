using System.Diagnostics;
using System.Formats.Tar;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// The copy transport's upload straight from the object store (issue 26): the tar the box gets holds the files a checkout
/// writes (the repository's own attributes cannot hide or rewrite one), owned by the box's user, plus the agent's git
/// directory as prepared, a fresh index and the shallow mark; the host's checkout is not read.
/// </summary>
public sealed class TreeFromObjectsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sr-objects-").FullName;

    public void Dispose() => TreeDeletion.Delete(_root);

    [Fact]
    public async Task The_tree_comes_from_git_objects_with_attributes_ignored_owned_by_the_box_user_and_the_git_directory_added()
    {
        var repo = Path.Combine(_root, "repo");
        Directory.CreateDirectory(Path.Combine(repo, "bin"));
        Git(repo, "init", "-q");
        await File.WriteAllTextAsync(Path.Combine(repo, "hidden.txt"), "export-ignore must not hide me\n");
        await File.WriteAllTextAsync(Path.Combine(repo, "subst.txt"), "$Format:%H$\n");
        await File.WriteAllTextAsync(Path.Combine(repo, ".gitattributes"), "hidden.txt export-ignore\nsubst.txt export-subst\n");
        await File.WriteAllTextAsync(Path.Combine(repo, "bin", "run.sh"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(repo, "bin", "run.sh"), (UnixFileMode)0b111_101_101);
        File.CreateSymbolicLink(Path.Combine(repo, "link"), "subst.txt");
        Git(repo, "add", "-A");
        Git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base");
        var commit = Git(repo, "rev-parse", "HEAD").Trim();
        var gitCli = new GitCli(NullLogger<GitCli>.Instance);
        var host = await HostRepository.OpenAsync(gitCli, repo, CancellationToken.None);

        var worktree = Worktree.Prepare(gitCli, host, Path.Combine(_root, "task"), commit);
        var checkout = worktree.CheckOutFilesAsync(UnixOwner.CurrentProcess, CancellationToken.None);
        using var tar = new MemoryStream();
        await TreeArchiveWriter.WriteFromArchiveAsync(
            tar, worktree.ArchiveAsync, Path.Combine(worktree.WorkPath, ".git"), new HashSet<string> { "index", "index.lock" }, 1000, 1000,
            [new(".git/index", await worktree.FreshIndexAsync(CancellationToken.None))], TreeArchiveWriter.CheckoutTime, CancellationToken.None);
        await checkout;

        tar.Position = 0;
        var entries = new Dictionary<string, TarEntry>(StringComparer.Ordinal);
        var contents = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var reader = new System.Formats.Tar.TarReader(tar))
        {
            while (reader.GetNextEntry(copyData: true) is { } entry)
            {
                entries[entry.Name] = entry;
                if (entry.DataStream is { } data)
                {
                    contents[entry.Name] = new StreamReader(data, Encoding.UTF8, false).ReadToEnd();
                }
            }
        }

        Assert.Equal("export-ignore must not hide me\n", contents["hidden.txt"]);
        Assert.Equal("$Format:%H$\n", contents["subst.txt"]);
        Assert.Equal("subst.txt", entries["link"].LinkName);
        Assert.True((entries["bin/run.sh"].Mode & UnixFileMode.UserExecute) != 0);
        Assert.All(entries.Values.Where(e => e.Name != "./"), e => Assert.Equal(1000, e.Uid));
        Assert.Equal(TreeArchiveWriter.CheckoutTime, entries["subst.txt"].ModificationTime.UtcDateTime);
        Assert.Equal(commit + "\n", await File.ReadAllTextAsync(Path.Combine(worktree.WorkPath, ".git", "HEAD")));
        Assert.Contains(".git/HEAD", entries.Keys);
        Assert.Contains(".git/objects/info/alternates", entries.Keys);
        Assert.Single(entries.Keys, k => k == ".git/index");

        // The same files as the host's checkout, which was written meanwhile.
        var checkedOut = Directory.EnumerateFileSystemEntries(worktree.WorkPath, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(worktree.WorkPath, p)).Where(p => !p.StartsWith(".git", StringComparison.Ordinal) || p == ".gitattributes").Order(StringComparer.Ordinal);
        var archived = entries.Keys.Select(k => k.TrimEnd('/')).Where(k => k != "." && !k.StartsWith(".git/", StringComparison.Ordinal) && k != ".git").Order(StringComparer.Ordinal);
        Assert.Equal(checkedOut, archived);
    }

    private static string Git(string directory, params string[] args) => RunnerTestBed.RunGit(directory, args);
}
