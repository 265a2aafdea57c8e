using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// Honest work is never a violation: running a Python repository's tests leaves bytecode caches beside the code, which a
/// repository's .gitignore often forgets; the harvest leaves them out, while a tracked file of the same kind is still harvested.
/// </summary>
public sealed class InterpreterCacheTests : IDisposable
{
    private static readonly TaskLimits Limits = new(1L << 30, 100_000, 1L << 28, 1L << 28, 1L << 20);

    private readonly string _root = Directory.CreateTempSubdirectory("sr-caches-").FullName;
    private readonly GitCli _git = new(NullLogger<GitCli>.Instance);

    public void Dispose() => TreeDeletion.Delete(_root);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_caches_running_the_tests_leaves_are_not_changes_of_the_task(bool sparse)
    {
        var (host, commit) = await RepositoryAsync();
        var worktree = sparse ? Worktree.Prepare(_git, host, Path.Combine(_root, "task"), commit)
            : await Worktree.CreateAsync(_git, host, Path.Combine(_root, "task"), commit, UnixOwner.CurrentProcess, CancellationToken.None);
        if (sparse)
        {
            await worktree.PrepareSparseAsync(CancellationToken.None);
        }

        string[] written = ["src/parse.py", "src/__pycache__/parse.cpython-311.pyc", "tests/__pycache__/test_parse.cpython-311-pytest-8.pyc",
            ".pytest_cache/v/cache/nodeids", ".mypy_cache/3.11/parse.data.json", ".ruff_cache/0.5/x", "src/stray.pyo", "tracked.pyc"];
        foreach (var path in written)
        {
            var full = Path.Combine(worktree.WorkPath, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            await File.WriteAllTextAsync(full, "changed\n");
        }

        if (sparse)
        {
            await worktree.UnskipAsync(written.Select(p => p.Split('/')[0]).Distinct().ToList(), CancellationToken.None);
        }

        var changes = await worktree.CollectChangesAsync(Limits, Path.Combine(_root, "p.patch"), CancellationToken.None);

        Assert.Equal(["src/parse.py", "tracked.pyc"], changes.Entries.Select(e => e.Path).Order(StringComparer.Ordinal));
    }

    private async Task<(HostRepository Host, string Commit)> RepositoryAsync()
    {
        var repo = Directory.CreateDirectory(Path.Combine(_root, "repo")).FullName;
        RunnerTestBed.RunGit(repo, "init", "-q");
        Directory.CreateDirectory(Path.Combine(repo, "src"));
        await File.WriteAllTextAsync(Path.Combine(repo, "src", "parse.py"), "def parse(s):\n    return s.split(',')\n");
        await File.WriteAllTextAsync(Path.Combine(repo, "tracked.pyc"), "a compiled file the repository keeps\n");
        RunnerTestBed.RunGit(repo, "add", "-A");
        RunnerTestBed.RunGit(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base");
        var commit = RunnerTestBed.RunGit(repo, "rev-parse", "HEAD").Trim();
        return (await HostRepository.OpenAsync(_git, repo, CancellationToken.None), commit);
    }
}
