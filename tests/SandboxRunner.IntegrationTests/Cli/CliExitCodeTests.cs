using System.Net;
using System.Net.Sockets;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>What a pipeline branches on: 0 all succeeded, 1 a task did not, 2 bad input, 3 the machine.</summary>
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
