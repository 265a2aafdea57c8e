using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// A runner on a fresh test repository with the fake Codex image. Disposing it proves the run left
/// nothing behind: no labelled container, no task folder, no registered git worktree.
/// </summary>
public sealed class RunnerHarness : IAsyncDisposable
{
    private readonly DockerEngine _docker;

    private RunnerHarness(DockerEngine docker, TestRepository repository, Runner runner, RecordingEngine engine)
    {
        _docker = docker;
        Repository = repository;
        Runner = runner;
        Engine = engine;
    }

    public TestRepository Repository { get; }
    public Runner Runner { get; }

    /// <summary>The run folder of the repository, read as the runner writes it.</summary>
    public RunStore Store => new(Runner.Repository);

    /// <summary>The repository's label on everything its runs create in the engine.</summary>
    public string Scope => Labels.ScopeOf(Runner.Repository.CommonDir);
    internal RecordingEngine Engine { get; }
    public List<TaskProgress> Progress { get; } = [];

    public static Task<RunnerHarness> CreateAsync(
        DockerFixture docker, Func<RunnerConfig, RunnerConfig>? configure = null, Func<string, string?>? hostEnvironment = null) =>
        CreateAsync(docker.Engine, configure, hostEnvironment);

    /// <summary>A runner on <paramref name="docker"/>, any engine (the remote-engine tests pass a second one).</summary>
    internal static async Task<RunnerHarness> CreateAsync(
        DockerEngine docker, Func<RunnerConfig, RunnerConfig>? configure = null, Func<string, string?>? hostEnvironment = null)
    {
        var repository = new TestRepository();
        var git = new GitCli(NullLogger<GitCli>.Instance);
        var host = await HostRepository.OpenAsync(git, repository.Path, CancellationToken.None);
        // Policies open by default here, and no network; the policy and network tests set their own.
        var config = RunnerConfig.Default with
        {
            Image = DockerFixture.FakeCodexImage, CodexModel = "gpt-5.5", AllowedCommands = [], DefaultAllowedPaths = ["**"], NetworkPolicy = NetworkPolicy.None,
        };
        config = configure?.Invoke(config) ?? config;
        var engine = new RecordingEngine(docker);
        var runner = new Runner(host, config, engine.Backend, git, NullLoggerFactory.Instance, hostEnvironment: hostEnvironment ?? (_ => null));
        return new RunnerHarness(docker, repository, runner, engine);
    }

    /// <summary>
    /// Another runner on the same repository and engine with <paramref name="config"/> (a server restarted with an
    /// edited config); its containers are recorded and checked like the harness's own. The caller disposes it.
    /// </summary>
    public Runner SecondRunner(RunnerConfig config, Func<string, string?>? hostEnvironment = null) =>
        new(Runner.Repository, config, Engine.Backend, new GitCli(NullLogger<GitCli>.Instance), NullLoggerFactory.Instance, hostEnvironment: hostEnvironment ?? (_ => null));

    public async Task<RunResult> RunAsync(params TaskRequest[] tasks) => await RunAsync(new RunRequest { Tasks = tasks }, CancellationToken.None);

    public async Task<RunResult> RunAsync(RunRequest request, CancellationToken cancellationToken)
    {
        var progress = new InlineProgress(p =>
        {
            lock (Progress)
            {
                Progress.Add(p);
            }
        });
        return await Runner.RunAsync(request, progress, cancellationToken);
    }

    public static TaskRequest Task(string id, params string[] steps) => new() { TaskId = id, Prompt = string.Join('\n', steps) };

    /// <summary>
    /// More proofs run on disposal after the harness's own, e.g. that a second engine the runs never
    /// touched holds nothing of them either.
    /// </summary>
    public List<Func<RunnerHarness, Task>> LeftBehindChecks { get; } = [];

    /// <summary>The run ids of every container the runner created: what its runs may have left anywhere.</summary>
    /// <remarks>A deny gateway made ahead of its run carries no run label: the backend hands it to one run and removes it.</remarks>
    public IReadOnlySet<string> RunIds =>
        Engine.Specs.Values.Select(s => s.Labels.GetValueOrDefault(Labels.Run)).OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// What the backend holds ready for a next run (the spare gateway's containers and network): made for no run, holding
    /// nothing of any (DockerGatewayTests shows it), and removed with the backend.
    /// </summary>
    public async Task<(IReadOnlySet<string> Containers, IReadOnlySet<string> Networks)> SparesAsync()
    {
        var spares = await Engine.Backend.Gateways.SparesAsync();
        var networks = spares.Select(g => g.NetworkName).ToHashSet(StringComparer.Ordinal);
        var containers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spare in spares)
        {
            containers.UnionWith(await Engine.ListContainersAsync(LabelSelector.Of(SandboxRunner.Boxes.Docker.DockerEgress.GatewayLabel, spare.Id), CancellationToken.None));
        }

        return (containers, networks);
    }

    public async Task AssertNothingLeftAsync()
    {
        // A run's gateway and holders go after its reply, in the background: what is left is judged once they have.
        await Engine.Backend.SettledAsync(CancellationToken.None);
        var containers = await _docker.ListContainersAsync(Labels.Run, null, CancellationToken.None);
        var ours = containers.Where(Engine.Specs.ContainsKey).ToList();
        Assert.True(ours.Count == 0, $"containers left behind: {string.Join(", ", ours)}");

        // Also those whose create call never returned an id (a run cancelled mid-create): found by the repository's label.
        await AssertEngineHoldsNothingAsync(_docker);
        var worktrees = Path.Combine(Runner.Repository.RunnerDir, "worktrees");
        var left = Directory.Exists(worktrees) ? Directory.EnumerateFileSystemEntries(worktrees).ToList() : [];
        Assert.True(left.Count == 0, $"task folders left behind: {string.Join(", ", left)}; holding: {string.Join(", ", left.SelectMany(Holding).Take(20))}");
        var runImages = (await _docker.ListImagesAsync(LabelSelector.Of(Labels.Scope, Scope).And(Labels.Role, ImageRoles.Run), CancellationToken.None)).ToList();
        Assert.True(runImages.Count == 0, $"run images left behind: {string.Join(", ", runImages.SelectMany(i => i.Tags))}");
        var registered = Repository.Git("worktree", "list", "--porcelain").Split('\n').Count(l => l.StartsWith("worktree ", StringComparison.Ordinal));
        Assert.Equal(1, registered);
        foreach (var check in LeftBehindChecks)
        {
            await check(this);
        }
    }

    /// <summary>What a folder left behind holds (what was written into it, and when, says what left it).</summary>
    private static IEnumerable<string> Holding(string folder) => Directory.Exists(folder)
        ? Directory.EnumerateFileSystemEntries(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true })
            .Select(e => $"{Path.GetRelativePath(folder, e)} ({File.GetLastWriteTimeUtc(e):HH:mm:ss.fff})")
        : [];

    /// <summary>
    /// Proves <paramref name="engine"/> holds no container of this repository and no network of its runs.
    /// Filtered by the repository's scope: other test processes run tasks on the same engine at once.
    /// </summary>
    internal async Task AssertEngineHoldsNothingAsync(IContainerEngine engine)
    {
        var scoped = await engine.ListContainersAsync(Labels.Scope, Scope, CancellationToken.None);
        Assert.True(scoped.Count == 0, $"containers of this repository left behind: {string.Join(", ", scoped)}");
        var networks = new List<string>();
        foreach (var run in RunIds)
        {
            networks.AddRange(await engine.ListNetworksAsync(Labels.OfRun(Scope, run), CancellationToken.None));
        }

        Assert.True(networks.Count == 0, $"networks left behind: {string.Join(", ", networks)}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await AssertNothingLeftAsync();
        }
        finally
        {
            // Setup images are a cache keyed by this test repository's lock files: no later test can use them,
            // nor the Codex layerings made on them (removed first: they are the setup images' children).
            var ours = await _docker.ListImagesAsync(LabelSelector.Of(Labels.Scope, Scope), CancellationToken.None);
            var onSetup = ours.Where(i => i.Labels.TryGetValue(SandboxRunner.Environments.EnvironmentImages.LayeredOn, out var under) && under.StartsWith("sandbox-runner/setup:", StringComparison.Ordinal));
            foreach (var tag in onSetup.SelectMany(i => i.Tags).Concat(ours.SelectMany(i => i.Tags).Where(t => t.StartsWith("sandbox-runner/setup:", StringComparison.Ordinal))).ToList())
            {
                await _docker.RemoveImageAsync(tag, CancellationToken.None);
            }

            Runner.Dispose();
            Engine.Dispose();
            Repository.Dispose();
        }

        // The spare gateway made for a next run goes with the backend: nothing the harness's backend made outlives it.
        var outlived = (await _docker.ListContainersAsync(Labels.Owner, null, CancellationToken.None)).Where(Engine.Specs.ContainsKey).ToList();
        Assert.True(outlived.Count == 0, $"containers left behind by the backend's disposal: {string.Join(", ", outlived)}");
    }

    private sealed class InlineProgress(Action<TaskProgress> report) : IProgress<TaskProgress>
    {
        public void Report(TaskProgress value) => report(value);
    }
}
