using System.Diagnostics;
using System.Formats.Tar;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Codex;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// How the copy transport fills a box's two scratch folders. The look's stamp must come after every file of the tree, so
/// a box that will be looked beside gets CODEX_HOME only once its tree is in; a box read back whole never has its stamp
/// read, so its two archive calls (tens of milliseconds each through a swarm node's engine) overlap.
/// </summary>
public sealed class TreeCopyFillTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sr-fill-").FullName;

    public void Dispose() => TreeDeletion.Delete(_root);

    [Fact]
    public async Task A_box_that_will_be_looked_beside_gets_CODEX_HOME_with_the_stamp_only_after_its_tree_is_in()
    {
        var box = new HeldTreeBox(looksBeside: true);
        var fill = await StartFillAsync(box);

        await Task.Delay(300);
        box.ReleaseTree.SetResult();
        await fill;

        Assert.True(box.HomeCameAfterTree);

        var stamp = Assert.Single(box.HomeEntries, e => e.Name == TreeLook.StampName);
        Assert.Equal(0, stamp.Uid);
    }

    [Fact]
    public async Task A_box_read_back_whole_gets_its_tree_and_CODEX_HOME_at_once_and_no_stamp()
    {
        var box = new HeldTreeBox(looksBeside: false);
        var fill = await StartFillAsync(box);

        await box.HomeArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(fill.IsCompleted);
        box.ReleaseTree.SetResult();
        var given = await fill;

        Assert.DoesNotContain(box.HomeEntries, e => e.Name == TreeLook.StampName);
        Assert.Contains("a.txt", given.Keys);
    }

    /// <summary>A one-file repository's task, its fill started and its tree upload under way.</summary>
    private async Task<Task<IReadOnlyDictionary<string, TreeLook.HostEntry>>> StartFillAsync(HeldTreeBox box)
    {
        var repo = Path.Combine(_root, "repo");
        Directory.CreateDirectory(repo);
        Git(repo, "init", "-q");
        await File.WriteAllTextAsync(Path.Combine(repo, "a.txt"), "a\n");
        Git(repo, "add", "-A");
        Git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base");
        var commit = Git(repo, "rev-parse", "HEAD").Trim();
        var git = new GitCli(NullLogger<GitCli>.Instance);
        var host = await HostRepository.OpenAsync(git, repo, CancellationToken.None);
        var worktree = Worktree.Prepare(git, host, Path.Combine(_root, "task"), commit);
        var home = Directory.CreateDirectory(Path.Combine(_root, "home")).FullName;
        await File.WriteAllTextAsync(Path.Combine(home, "config.toml"), "model = \"m\"\n");
        var runFolder = Directory.CreateDirectory(Path.Combine(_root, "run")).FullName;

        var fill = new TreeCopy(git, host, runFolder, commit).UploadAsync(box, worktree, home, UnixOwner.CurrentProcess, CancellationToken.None);
        await box.TreeArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return fill;
    }

    private static string Git(string directory, params string[] args) => RunnerTestBed.RunGit(directory, args);

    /// <summary>A box whose workspace upload is held once its archive is written, until the test releases it.</summary>
    private sealed class HeldTreeBox(bool looksBeside) : ITaskBox
    {
        public TaskCompletionSource TreeArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource ReleaseTree { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource HomeArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<TarEntry> HomeEntries { get; } = [];

        /// <summary>Whether CODEX_HOME's upload began only once the tree's had been let through.</summary>
        public bool HomeCameAfterTree { get; private set; }

        public string Id => "held";

        public string? Node => null;

        public bool LooksBeside => looksBeside;

        public async Task PutArchiveAsync(string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken)
        {
            if (path != CodexCommandLine.Workspace)
            {
                HomeCameAfterTree = ReleaseTree.Task.IsCompleted;
            }

            using var tar = new MemoryStream();
            await writeTar(tar, cancellationToken);
            if (path == CodexCommandLine.Workspace)
            {
                TreeArrived.TrySetResult();
                await ReleaseTree.Task;
                return;
            }

            tar.Position = 0;
            using var reader = new System.Formats.Tar.TarReader(tar);
            while (reader.GetNextEntry() is { } entry)
            {
                HomeEntries.Add(entry);
            }

            HomeArrived.TrySetResult();
        }

        public Task<BoxExit> RunAsync(TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task StartAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<long?> ExecAsync(BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task KillAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<byte[]?> ReadFileAsync(string path, long maxBytes, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<T> GetArchiveAsync<T>(string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<long?> WrittenBytesAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<PathChange>?> ChangesAsync(int maxEntries, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<string> CommitAsync(ImageCommit commit, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
