using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Fakes;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// A real runner on a fresh git repository, with the <see cref="FakeEngine"/> in place of Docker. The
/// repository is created under /tmp with default permissions, since as root the runner checks task
/// trees out as uid 1000, which must be able to read it.
/// </summary>
internal sealed class RunnerTestBed : IDisposable
{
    public const string Image = "fake:dev";

    /// <summary>No run of the fake takes long; one that does has hung, and fails instead of stalling the suite.</summary>
    public static readonly TimeSpan Hang = TimeSpan.FromSeconds(90);

    private readonly List<Runner> _runners = [];

    private RunnerTestBed(string path, GitCli git, HostRepository host, RunnerConfig config, FakeEngine engine, string baseCommit)
    {
        Path = path;
        GitCli = git;
        Host = host;
        Config = config;
        Engine = engine;
        Backend = new FakeBackend(engine);
        BaseCommit = baseCommit;
        Runner = NewRunner(config);
    }

    public string Path { get; }
    public GitCli GitCli { get; }
    public HostRepository Host { get; }
    public RunnerConfig Config { get; }
    public FakeEngine Engine { get; }

    /// <summary>The backend the runner gets: <see cref="Engine"/> behind the seam.</summary>
    public FakeBackend Backend { get; }
    public Runner Runner { get; }

    /// <summary>The run folder of the repository, read as the runner writes it.</summary>
    public RunStore Store => new(Host);

    /// <summary>The repository's label on everything its runs create in the engine.</summary>
    public string Scope => SandboxRunner.Boxes.Labels.ScopeOf(Host.CommonDir);
    public string BaseCommit { get; }

    public static RunnerConfig DefaultConfig { get; } = RunnerConfig.Default with
    {
        Image = Image, NetworkPolicy = NetworkPolicy.None, AllowedCommands = [], DefaultAllowedPaths = ["**"],
    };

    public static async Task<RunnerTestBed> CreateAsync(Func<RunnerConfig, RunnerConfig>? configure = null)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sr-unit", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        RunGit(path, "init", "-q", "-b", "main");
        RunGit(path, "config", "user.name", "Test");
        RunGit(path, "config", "user.email", "test@example.invalid");
        Write(path, "README.md", "# Test repo\n");
        Write(path, "src/app.txt", "line 1\nline 2\n");
        Write(path, "docs/old.txt", "to be deleted\n");
        RunGit(path, "add", "-A");
        RunGit(path, "commit", "-qm", "initial");
        var git = new GitCli(NullLogger<GitCli>.Instance);
        var host = await HostRepository.OpenAsync(git, path, CancellationToken.None);
        var config = configure?.Invoke(DefaultConfig) ?? DefaultConfig;
        return new RunnerTestBed(path, git, host, config, new FakeEngine(Image), RunGit(path, "rev-parse", "HEAD").Trim());
    }

    /// <summary>Another runner on the same repository and engine, e.g. a server restarted with a new config.</summary>
    public Runner NewRunner(RunnerConfig config)
    {
        var runner = new Runner(Host, config, Backend, GitCli, NullLoggerFactory.Instance, hostEnvironment: _ => null);
        _runners.Add(runner);
        return runner;
    }

    public static TaskRequest Ask(string taskId, string prompt = "do the thing") => new() { TaskId = taskId, Prompt = prompt };

    public Task<RunResult> RunAsync(params TaskRequest[] tasks) => RunAsync(new RunRequest { Tasks = tasks }, CancellationToken.None);

    public Task<RunResult> RunAsync(RunRequest request, CancellationToken cancellationToken) =>
        Runner.RunAsync(request, null, cancellationToken).WaitAsync(Hang, CancellationToken.None);

    public async Task<TaskResult> StoredResultAsync(string runId, string taskId) =>
        await Store.ReadResultAsync(runId, taskId, CancellationToken.None)
            ?? throw new Xunit.Sdk.XunitException($"{runId}/{taskId} has no result.json");

    /// <summary>The file as a commit has it (<c>git show rev:path</c>).</summary>
    public string Show(string revision, string path) => Git("show", $"{revision}:{path}");

    public bool BranchExists(string branch) =>
        Git("branch", "--list", branch).Trim().Length > 0;

    public string Git(params string[] args) => RunGit(Path, args);

    public void Write(string relative, string content) => Write(Path, relative, content);

    /// <summary>What a finished run must leave: no container or network in the engine and no task folder on disk.</summary>
    public void AssertNothingLeft()
    {
        Assert.Equal(0, Engine.LiveCount);
        Assert.Equal(0, Engine.RunningCount);
        Assert.Equal(0, Engine.NetworkCount);
        Assert.Equal(Engine.CreatedCount, Engine.RemovedCount);
        Assert.Empty(TaskFolders());
    }

    /// <summary>Whatever is left under .git/sandbox-runner/worktrees.</summary>
    public IReadOnlyList<string> TaskFolders()
    {
        var root = TaskTreeLayout.Root(Host);
        return Directory.Exists(root) ? Directory.EnumerateFileSystemEntries(root).ToList() : [];
    }

    public void Dispose()
    {
        foreach (var runner in _runners)
        {
            runner.Dispose();
        }

        SandboxRunner.Platform.TreeDeletion.TryDelete(Path);
    }

    private static void Write(string root, string relative, string content)
    {
        var full = System.IO.Path.Combine(root, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
    }

    /// <summary>The host's git in <paramref name="workingDirectory"/>; its output, or an exception with its stderr. Shared by the tests that set up a repository by hand.</summary>
    internal static string RunGit(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? stdout.Result
            : throw new InvalidOperationException($"git {string.Join(' ', args)} failed ({process.ExitCode}): {stderr}");
    }
}
