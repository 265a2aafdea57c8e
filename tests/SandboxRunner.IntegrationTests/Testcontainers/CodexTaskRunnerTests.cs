using Docker.DotNet;
using Docker.DotNet.Models;
using DotNet.Testcontainers.Containers;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Testcontainers;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Testcontainers;

/// <summary>
/// The Testcontainers module from the inside: a scripted agent judged like any task, Testcontainers' session
/// labels on what its runs create, nothing of it left after disposal, and what a killed test process left
/// removed by the next start.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class CodexTaskRunnerTests(DockerFixture docker)
{
    private static TestRepository Fixture()
    {
        var repository = new TestRepository();
        repository.Write("test.sh", "grep -qx fixed src/app.txt || { echo 'not ok - src/app.txt is not fixed' >&2; exit 1; }\necho 'ok - fixed'\n");
        repository.Write(".mcp-codex.json", """{ "network_policy": "none", "default_allowed_paths": ["src/**"], "allowed_commands": ["sh test.sh"] }""");
        repository.Git("add", "-A");
        repository.Git("commit", "-qm", "tests");
        return repository;
    }

    [Fact]
    public async Task A_scripted_task_is_run_verified_and_judged_like_any_task_and_nothing_of_it_is_left_after_disposal()
    {
        using var repository = Fixture();
        var runner = new CodexTaskRunnerBuilder().WithRepository(repository.Path).WithScriptedModel().WithVerify("sh test.sh").Build();
        await runner.StartAsync();
        try
        {
            var result = await runner.RunAsync(CodexTask.Scripted("fix", "Fix src/app.txt.", AgentStep.Write("src/app.txt", "fixed\n"), AgentStep.Run("sh test.sh"), AgentStep.Message("Fixed.")));

            Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
            Assert.Equal(VerificationStatus.Passed, result.Verification!.Status);
            Assert.Equal(["src/app.txt"], result.FilesChanged);
            Assert.Contains("+fixed", result.Patch, StringComparison.Ordinal);
            Assert.Contains(result.CommandsRun, c => c.Cmd.Contains("sh test.sh", StringComparison.Ordinal) && c.ExitCode == 0);
            Assert.Equal("Fixed.", result.Summary);
        }
        finally
        {
            await runner.DisposeAsync();
        }

        var instance = LabelSelector.Of(SessionLabels.Instance, runner.Labels[SessionLabels.Instance]);
        Assert.Empty(await docker.Engine.ListContainersAsync(instance, CancellationToken.None));
        Assert.Empty(await docker.Engine.ListNetworksAsync(instance, CancellationToken.None));
        Assert.Empty(await docker.Engine.ListImagesAsync(instance.And(Labels.Role, ImageRoles.Run), CancellationToken.None));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => runner.RunAsync(CodexTask.Scripted("late", "Too late.", AgentStep.Message("no"))));
    }

    [Fact]
    public async Task A_running_tasks_container_carries_the_testcontainers_session_labels_and_disposing_mid_task_leaves_nothing()
    {
        using var repository = Fixture();
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        var runner = new CodexTaskRunnerBuilder().WithRepository(repository.Path).WithScriptedModel().WithLabel("team", "payments").Build();
        await runner.StartAsync();
        var runId = await runner.StartRunAsync([CodexTask.Scripted("slow", "Wait.", AgentStep.Sleep(TimeSpan.FromMinutes(10)))]);
        var instance = LabelSelector.Of(SessionLabels.Instance, runner.Labels[SessionLabels.Instance]);

        // Found the way Testcontainers' reaper finds what to remove: by its session label.
        var session = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ResourceReaper.ResourceReaperSessionLabel}={ResourceReaper.DefaultSessionId:D}"] = true } };
        IDictionary<string, string>? labels = null;
        while (labels is null)
        {
            Assert.Equal(Runs.RunState.Running, (await runner.GetRunAsync(runId))!.Status);
            labels = (await client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = session }))
                .FirstOrDefault(c => c.Labels.TryGetValue(SessionLabels.Instance, out var i) && i == runner.Labels[SessionLabels.Instance] && c.Labels.ContainsKey(Labels.Task))?.Labels;
            await Task.Delay(100);
        }

        Assert.Equal("slow", labels[Labels.Task]);
        Assert.Equal(ResourceReaper.DefaultSessionId.ToString("D"), labels["org.testcontainers.session-id"]);
        Assert.Equal("true", labels["org.testcontainers"]);
        Assert.Equal("payments", labels["team"]);

        await runner.DisposeAsync();

        Assert.Empty(await docker.Engine.ListContainersAsync(instance, CancellationToken.None));
        Assert.Empty(await docker.Engine.ListNetworksAsync(instance, CancellationToken.None));
    }

    [Fact]
    public async Task Starting_a_runner_removes_what_a_killed_test_process_left_and_leaves_a_living_ones_alone()
    {
        using var repository = Fixture();
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        var dead = $"{Environment.MachineName}/{DeadPid()}";
        var name = $"sr-tc-orphan-{Guid.NewGuid():N}"[..28];
        var orphan = await CreateAsync(client, name + "-dead", dead);
        var living = await CreateAsync(client, name + "-live", Labels.CurrentOwner);
        await client.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = name, Labels = new Dictionary<string, string> { [SessionLabels.Owner] = dead, [Labels.Owner] = dead },
        });
        try
        {
            await using var runner = new CodexTaskRunnerBuilder().WithRepository(repository.Path).WithScriptedModel().Build();

            await runner.StartAsync();

            var left = (await client.Containers.ListContainersAsync(new ContainersListParameters { All = true })).Select(c => c.ID).ToList();
            Assert.DoesNotContain(orphan, left);
            Assert.Contains(living, left);
            Assert.DoesNotContain(await client.Networks.ListNetworksAsync(), n => n.Name == name);
        }
        finally
        {
            await docker.Engine.RemoveAsync(living, CancellationToken.None);
            await docker.Engine.RemoveAsync(orphan, CancellationToken.None);
            await docker.Engine.RemoveNetworkAsync(name, CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_doctor_examines_the_config_with_the_builders_changes_that_the_runs_get()
    {
        using var repository = Fixture();
        await using var runner = new CodexTaskRunnerBuilder().WithRepository(repository.Path).WithScriptedModel().WithNetworkPolicy(Configuration.NetworkPolicy.Deny).Build();
        await runner.StartAsync();

        var report = await runner.DoctorAsync();

        Assert.True(report.Ok, string.Join("\n", report.Checks.Select(c => $"{c.Check} {c.Status}: {c.Detail}")));
        Assert.Equal($"{FakeCodexImage.Recipe().Tag} is present", Assert.Single(report.Checks, c => c.Check == "image").Detail);
        Assert.Equal("network_policy deny", Assert.Single(report.Checks, c => c.Check == "network").Detail);
        Assert.StartsWith("scripted model:", Assert.Single(report.Checks, c => c.Check == "auth").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fixture_that_is_not_a_git_repository_is_refused_at_start_naming_the_builder_method()
    {
        var folder = Directory.CreateTempSubdirectory("sr-tc-").FullName;
        try
        {
            await using var runner = new CodexTaskRunnerBuilder().WithRepository(folder).WithScriptedModel().Build();

            var error = await Assert.ThrowsAsync<Configuration.InvalidInputException>(() => runner.StartAsync());

            Assert.Contains("RepositoryPath", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    private static async Task<string> CreateAsync(DockerClient client, string name, string owner) =>
        (await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = name,
            Image = DockerFixture.FakeCodexImage,
            Cmd = ["true"],
            Labels = new Dictionary<string, string> { [SessionLabels.Owner] = owner, [Labels.Owner] = owner },
        })).ID;

    /// <summary>A pid that no process of this machine has: one just exited.</summary>
    private static int DeadPid()
    {
        using var process = System.Diagnostics.Process.Start("true")!;
        process.WaitForExit();
        return process.Id;
    }
}
