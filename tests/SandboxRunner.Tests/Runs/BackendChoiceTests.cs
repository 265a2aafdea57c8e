using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.Configuration;
using SandboxRunner.Hosting;
using SandboxRunner.Platform;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Runs.RunnerTestBed;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// The config's <c>backend</c> chooses where a process's tasks run: the backend is made when the config is read, one
/// per choice, and a reload that changes it reaches new calls while runs in progress keep theirs.
/// </summary>
public sealed class BackendChoiceTests
{
    // What the fake engine needs: its image, no egress proxy, every path and command allowed.
    private const string Base = "\"image\": \"fake:dev\", \"network_policy\": \"none\", \"allowed_commands\": [], \"default_allowed_paths\": [\"**\"]";
    private const string Swarm = "\"backend\": \"swarm\", \"registry\": \"localhost:5000\", \"max_tasks_per_node\": 2";

    // Nothing answers there: making a backend must not contact its engine.
    private static readonly EngineConnection Nowhere = new(new Uri("unix:///nonexistent/sandbox-runner.sock"));

    [Fact]
    public async Task A_config_that_names_the_swarm_gets_the_swarm_backend_with_its_options_and_nothing_is_contacted()
    {
        using var bed = await CreateAsync();
        WriteConfig(bed, Swarm);
        using var workspace = new Workspace(bed.Path, BackendFactory.Pool(Nowhere, NullLoggerFactory.Instance), bed.GitCli, NullLoggerFactory.Instance);

        var runner = await workspace.GetRunnerAsync(CancellationToken.None);

        Assert.Equal(new SwarmOptions("localhost:5000", 2, SwarmOptions.DefaultWarmBoxes), Assert.IsType<SwarmBackend>(runner.Backend).Options);
    }

    [Fact]
    public async Task A_config_without_backend_gets_the_docker_backend_over_the_process_engine()
    {
        using var bed = await CreateAsync();
        WriteConfig(bed, "");
        using var workspace = new Workspace(bed.Path, BackendFactory.Pool(Nowhere, NullLoggerFactory.Instance), bed.GitCli, NullLoggerFactory.Instance);

        var runner = await workspace.GetRunnerAsync(CancellationToken.None);

        Assert.Equal(Nowhere, Assert.IsType<DockerBackend>(runner.Backend).Connection);
    }

    [Fact]
    public async Task A_reload_that_changes_the_backend_gives_new_calls_a_new_one_while_a_run_in_progress_keeps_its_own()
    {
        using var bed = await CreateAsync();
        var swarm = new FakeBackend(new FakeEngine(Image));
        WriteConfig(bed, "");
        using var workspace = new Workspace(bed.Path, new ProcessBackends(c => c.Backend == BackendKind.Swarm ? swarm : bed.Backend), bed.GitCli, NullLoggerFactory.Instance);
        var working = new TaskCompletionSource<FakeContainer>();
        bed.Engine.Agent = FakeAgents.WorksUntilKilled(c => c.WriteFile("src/a.txt", "a\n"), working);
        var local = await workspace.GetRunnerAsync(CancellationToken.None);
        await local.StartAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);
        await working.Task.WaitAsync(Hang);

        WriteConfig(bed, Swarm);
        var edited = await workspace.GetRunnerAsync(CancellationToken.None);
        var later = await edited.RunAsync(new RunRequest { RunId = "r2", Tasks = [Ask("t2")] }, null, CancellationToken.None).WaitAsync(Hang);

        Assert.Same(swarm, edited.Backend);
        Assert.Equal(SandboxRunner.Runs.TaskStatus.Success, Assert.Single(later.Results).Status);
        Assert.Equal(["r2"], swarm.Engine.History.Select(c => c.RunId));
        Assert.Equal(["r1"], bed.Engine.History.Select(c => c.RunId));
        Assert.Equal(1, bed.Engine.RunningCount);
        await workspace.ShutdownAsync(CancellationToken.None).WaitAsync(Hang);
        Assert.Equal(SandboxRunner.Runs.TaskStatus.Cancelled, (await bed.Store.ReadResultAsync("r1", "t1", CancellationToken.None))!.Status);
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_reload_that_keeps_the_backend_choice_keeps_the_backend()
    {
        using var bed = await CreateAsync();
        WriteConfig(bed, Swarm + ", \"codex_model\": \"model-a\"");
        using var workspace = new Workspace(bed.Path, BackendFactory.Pool(Nowhere, NullLoggerFactory.Instance), bed.GitCli, NullLoggerFactory.Instance);
        var first = await workspace.GetRunnerAsync(CancellationToken.None);

        WriteConfig(bed, Swarm + ", \"codex_model\": \"model-b\"");
        var second = await workspace.GetRunnerAsync(CancellationToken.None);

        Assert.NotSame(first, second);
        Assert.Same(first.Backend, second.Backend);
    }

    [Fact]
    public async Task A_swarm_option_that_changes_makes_a_new_backend_with_the_new_option()
    {
        using var bed = await CreateAsync();
        WriteConfig(bed, Swarm);
        using var workspace = new Workspace(bed.Path, BackendFactory.Pool(Nowhere, NullLoggerFactory.Instance), bed.GitCli, NullLoggerFactory.Instance);
        var first = await workspace.GetRunnerAsync(CancellationToken.None);

        WriteConfig(bed, "\"backend\": \"swarm\", \"registry\": \"localhost:5000\", \"max_tasks_per_node\": 4");
        var second = await workspace.GetRunnerAsync(CancellationToken.None);

        Assert.NotSame(first.Backend, second.Backend);
        Assert.Equal(4, Assert.IsType<SwarmBackend>(second.Backend).Options.MaxTasksPerNode);
    }

    [Fact]
    public async Task Every_backend_the_workspace_made_is_disposed_with_it()
    {
        using var bed = await CreateAsync();
        var made = new List<FakeBackend>();
        WriteConfig(bed, "");
        var workspace = new Workspace(bed.Path, new ProcessBackends(_ => Made(made, new FakeBackend(new FakeEngine(Image)))), bed.GitCli, NullLoggerFactory.Instance);
        await workspace.GetRunnerAsync(CancellationToken.None);
        WriteConfig(bed, Swarm);
        await workspace.GetRunnerAsync(CancellationToken.None);
        Assert.Equal(2, made.Count);
        Assert.DoesNotContain(made, b => b.Disposed);

        workspace.Dispose();

        Assert.All(made, b => Assert.True(b.Disposed));
    }

    [Fact]
    public async Task A_backend_handed_to_a_workspace_by_its_caller_is_left_to_the_caller()
    {
        using var bed = await CreateAsync();
        WriteConfig(bed, Swarm);
        var workspace = new Workspace(bed.Path, bed.Backend, bed.GitCli, NullLoggerFactory.Instance);
        Assert.Same(bed.Backend, (await workspace.GetRunnerAsync(CancellationToken.None)).Backend);

        workspace.Dispose();

        Assert.False(bed.Backend.Disposed);
    }

    [Fact]
    public async Task The_doctor_gets_the_backend_the_config_names_and_the_local_one_when_the_config_is_broken()
    {
        using var bed = await CreateAsync();
        WriteConfig(bed, Swarm);
        using var workspace = new Workspace(bed.Path, BackendFactory.Pool(Nowhere, NullLoggerFactory.Instance), bed.GitCli, NullLoggerFactory.Instance);
        Assert.IsType<SwarmBackend>(await workspace.CurrentBackendAsync(CancellationToken.None));

        File.WriteAllText(ConfigPath(bed), "{ \"backend\": \"swarm\", \"default_concurrency\": 99 }");

        Assert.IsType<DockerBackend>(await workspace.CurrentBackendAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_doctor_of_a_folder_that_is_no_repository_gets_the_local_backend()
    {
        var folder = Directory.CreateTempSubdirectory("sr-norepo-");
        try
        {
            using var workspace = new Workspace(folder.FullName, BackendFactory.Pool(Nowhere, NullLoggerFactory.Instance), new Git.GitCli(NullLogger<Git.GitCli>.Instance), NullLoggerFactory.Instance);

            Assert.IsType<DockerBackend>(await workspace.CurrentBackendAsync(CancellationToken.None));
        }
        finally
        {
            TreeDeletion.TryDelete(folder.FullName);
        }
    }

    [Fact]
    public async Task A_session_whose_config_names_the_swarm_runs_on_the_swarm_backend_and_one_without_on_docker()
    {
        using var bed = await CreateAsync();
        WriteConfig(bed, "");

        await using (var docker = await RunnerSession.OpenAsync(new RunnerSessionOptions { RepositoryPath = bed.Path }, CancellationToken.None))
        {
            Assert.IsType<DockerBackend>(docker.Backend);
            Assert.Same(docker.Backend, docker.Runner.Backend);
        }

        await using var swarm = await RunnerSession.OpenAsync(
            new RunnerSessionOptions { RepositoryPath = bed.Path, Configure = c => c with { Backend = BackendKind.Swarm, MaxTasksPerNode = 3 } }, CancellationToken.None);

        Assert.Equal(3, Assert.IsType<SwarmBackend>(swarm.Backend).Options.MaxTasksPerNode);
    }

    private static FakeBackend Made(List<FakeBackend> made, FakeBackend backend)
    {
        made.Add(backend);
        return backend;
    }

    private static string ConfigPath(RunnerTestBed bed) => Path.Combine(bed.Path, RunnerConfig.FileName);

    private static void WriteConfig(RunnerTestBed bed, string fields) =>
        File.WriteAllText(ConfigPath(bed), fields.Trim().Length == 0 ? $"{{ {Base} }}" : $"{{ {Base}, {fields} }}");
}
