using System.Net;
using System.Net.Sockets;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>What a pipeline branches on: 0 all succeeded, 1 a task did not, 2 bad input, 3 the machine, 4 the run could not start its tasks.</summary>
[Collection(CliCollection.Name)]
public sealed class CliExitCodeTests(DockerFixture docker)
{
    [Fact]
    public async Task Run_exits_0_when_every_task_succeeds()
    {
        await using var h = CliHarness.Create(docker);
        var tasks = h.WriteTasks(Run(NewRunId("cli-ok"), TaskArg("one", "@write src/one.txt 1"), TaskArg("two", "@write src/two.txt 2")));

        var run = await h.RunAsync("run", tasks);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("2/2 succeeded", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_exits_1_when_a_task_fails()
    {
        await using var h = CliHarness.Create(docker);
        var runId = NewRunId("cli-fail");
        var tasks = h.WriteTasks(Run(runId, TaskArg("good", "@write src/good.txt ok"), TaskArg("bad", "@fail the model gave up")));

        var run = await h.RunAsync("run", tasks);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal("failed", h.Result(runId, "bad").GetProperty("status").GetString());
        Assert.Equal("success", h.Result(runId, "good").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Run_exits_1_when_a_task_breaks_policy()
    {
        await using var h = CliHarness.Create(docker, """{ "default_allowed_paths": ["src/**"] }""");
        var runId = NewRunId("cli-policy");
        var tasks = h.WriteTasks(Run(runId, TaskArg("stray", "@write docs/outside.txt not allowed here")));

        var run = await h.RunAsync("run", tasks);

        Assert.True(run.ExitCode == 1, run.ToString());
        var violation = Assert.Single(h.Result(runId, "stray").GetProperty("violations").EnumerateArray());
        Assert.Equal("docs/outside.txt", violation.GetProperty("path").GetString());
        Assert.Contains("1 violation(s)", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_exits_2_for_a_tasks_file_with_a_misspelt_field_naming_the_field_and_the_fix()
    {
        await using var h = CliHarness.Create(docker);
        var tasks = h.WriteTasks(new { tasks = new[] { new { task_id = "typo", promt = "@write src/x.txt x" } } });

        var run = await h.RunAsync("run", tasks);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("tasks[0].promt: is not a known field (did you mean \"prompt\"?)", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(h.Repository.Path, RunStore.FolderName)), "a refused tasks file must create nothing");
    }

    [Fact]
    public async Task Run_exits_2_for_a_task_the_planner_refuses_naming_the_tasks_file_and_the_field()
    {
        await using var h = CliHarness.Create(docker);
        var tasks = h.WriteTasks(new { tasks = new[] { new { task_id = "slow", prompt = "@write src/x.txt x", timeout_sec = 5 } } });

        var run = await h.RunAsync("run", tasks);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"{tasks}: tasks[0].timeout_sec:", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(RunPlanner.Source, run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_exits_3_when_DOCKER_HOST_points_at_a_closed_port_naming_the_endpoint()
    {
        await using var h = CliHarness.Create(docker);
        var tasks = h.WriteTasks(Run(NewRunId("cli-nodocker"), TaskArg("one", "@write src/one.txt 1")));
        var endpoint = $"tcp://127.0.0.1:{ClosedPort()}";
        h.Environment["DOCKER_HOST"] = endpoint;

        var run = await h.RunAsync("run", tasks);

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Contains($"cannot reach the Docker engine at {endpoint}", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("check DOCKER_HOST", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
    }

    private const string FailingSetup = """{ "environment": { "base_image": "debian:bookworm-slim", "setup": ["echo the registry said no >&2; exit 7"] } }""";

    [Fact]
    public async Task Run_exits_4_when_the_environment_setup_fails_and_still_writes_its_reports()
    {
        await using var h = CliHarness.Create(docker, FailingSetup);
        var runId = NewRunId("cli-setup");
        var tasks = h.WriteTasks(Run(runId, TaskArg("one", "@write src/one.txt 1")));

        var run = await h.RunAsync("run", tasks, "--junit", h.FileIn("junit.xml"));

        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.Contains("sandbox-runner: the run could not start its tasks: environment.setup[0]: `echo the registry said no >&2; exit 7` (command 1 of 1) exited with 7;", run.Stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(h.FileIn("junit.xml")));
        Assert.Equal("failed", h.Result(runId, "one").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Run_exits_4_when_the_configured_task_image_is_missing()
    {
        await using var h = CliHarness.Create(docker, """{ "image": "sandbox-runner-test/absent:1" }""");
        var tasks = h.WriteTasks(Run(NewRunId("cli-noimage"), TaskArg("one", "@write src/one.txt 1")));

        var run = await h.RunAsync("run", tasks);

        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.Contains("'sandbox-runner-test/absent:1' is not in the Docker engine", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_readme_recipe_keeps_a_job_green_for_a_failed_task_and_fails_it_for_a_setup_that_could_not_run()
    {
        await using var failedTask = CliHarness.Create(docker);
        var tasks = failedTask.WriteTasks(Run(NewRunId("cli-recipe"), TaskArg("bad", "@fail the model gave up")));
        await using var brokenSetup = CliHarness.Create(docker, FailingSetup);
        var setupTasks = brokenSetup.WriteTasks(Run(NewRunId("cli-recipe-setup"), TaskArg("one", "@write src/one.txt 1")));

        var green = await CliProcess.RunScriptAsync(failedTask.Repository.Path, $"sandbox-runner run '{tasks}' || [ $? -eq 1 ]", failedTask.Environment, TimeSpan.FromMinutes(3));
        var red = await CliProcess.RunScriptAsync(brokenSetup.Repository.Path, $"sandbox-runner run '{setupTasks}' || [ $? -eq 1 ]", brokenSetup.Environment, TimeSpan.FromMinutes(3));

        Assert.True(green.ExitCode == 0, green.ToString());
        Assert.True(red.ExitCode != 0, red.ToString());
    }

    /// <summary>A port nothing listens on: bound by the system, then released.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
