using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.IntegrationTests.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Gvisor;

/// <summary>
/// Tasks under gVisor (issue 27) beyond the shared contracts: a task sees gVisor's kernel, a runtime the engine lacks is
/// refused before anything is created, and the rest of the pipeline (environments and their setup, the copy transport,
/// timeouts, cancellation, the real Codex applying a patch, the doctor) works under runsc.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class GvisorRuntimeTests(DockerFixture docker)
{
    private readonly GvisorEngine _gvisor = new(docker);

    /// <summary>The kernel this machine runs, which a runc task shares (the engine is local in these tests).</summary>
    private static string HostKernel => File.ReadAllText("/proc/version").Trim();

    [Fact]
    public async Task A_task_under_runsc_sees_gvisors_kernel_not_the_hosts()
    {
        await using var h = await _gvisor.HarnessAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("kernel", "@run 0 cat /proc/version", "@run 0 uname -r"))).Results);

        Assert.Equal((TaskStatus.Success, "runsc"), (result.Status, result.Runtime));
        Assert.NotEqual(HostKernel, result.CommandsRun[0].OutputTail.Trim());
        Assert.DoesNotContain(result.CommandsRun[1].OutputTail.Trim(), HostKernel, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_task_under_the_engines_default_runtime_shares_the_hosts_kernel_and_says_runc()
    {
        await using var h = await docker.HarnessAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("kernel", "@run 0 cat /proc/version"))).Results);

        Assert.Equal((HostKernel, "runc"), (result.CommandsRun[0].OutputTail.Trim(), result.Runtime));
    }

    [Fact]
    public async Task A_run_naming_a_runtime_the_engine_lacks_is_refused_before_anything_is_created()
    {
        await using var h = await docker.HarnessAsync(c => c with { Runtime = "no-such-runtime", NetworkPolicy = NetworkPolicy.Deny });

        var error = await Assert.ThrowsAsync<InvalidInputException>(() => h.RunAsync(new RunRequest { RunId = "missing-runtime", Tasks = [RunnerHarness.Task("t", "@write a.txt a")] }, CancellationToken.None));

        var problem = Assert.Single(error.Problems);
        Assert.Equal("runtime", problem.Field);
        Assert.StartsWith("'no-such-runtime' is not a runtime of the Docker engine (it lists ", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("runsc", problem.Rule, StringComparison.Ordinal);
        Assert.Empty(h.Engine.Specs);
        Assert.False(h.Store.Exists("missing-runtime"));
        Assert.Empty(await docker.Engine.ListNetworksAsync(Boxes.LabelSelector.Of(Boxes.Labels.Run, "missing-runtime"), CancellationToken.None));
    }

    [Fact]
    public async Task Network_policy_none_under_runsc_nonet_has_gvisors_loopback_alone()
    {
        await using var h = await docker.HarnessAsync(c => c with { Runtime = "runsc-nonet", NetworkPolicy = NetworkPolicy.None });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("nonet",
            "@run 0 tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '", "@run * exec 3<>/dev/tcp/1.1.1.1/443", "@write src/a.txt a\\n"))).Results);

        Assert.Equal((TaskStatus.Success, "runsc-nonet"), (result.Status, result.Runtime));
        Assert.Equal("lo", result.CommandsRun[0].OutputTail.Trim());
        Assert.NotEqual(0, result.CommandsRun[1].ExitCode);
        Assert.Equal(["src/a.txt"], result.FilesChanged);
    }

    [Fact]
    public async Task An_environments_setup_and_its_tasks_run_under_runsc_and_the_tasks_changes_come_back()
    {
        await using var h = await _gvisor.HarnessAsync(c => c with
        {
            Environment = new EnvironmentSpec { BaseImage = "debian:bookworm-slim", Setup = ["mkdir -p deps && cat /proc/version > deps/setup-kernel.txt"], CacheKeys = ["deps.lock"] },
        });
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("deps.lock", $"lock {Guid.NewGuid():N}\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("env",
            "@run 0 cat deps/setup-kernel.txt", "@write src/new.txt made in the environment\\n", "@append README.md more\\n"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal(("default", "runsc"), (result.Environment, result.Runtime));
        Assert.NotEqual(HostKernel, result.CommandsRun[0].OutputTail.Trim());
        Assert.Equal(["README.md", "src/new.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.True(result.PatchApplicable, result.ApplyCheckLog);
        Assert.Contains(h.Engine.Specs.Values, s => s.Labels.GetValueOrDefault(Boxes.Labels.Task) == "environment-setup" && s.Runtime == "runsc");
    }

    [Fact]
    public async Task The_copy_transport_works_under_runsc()
    {
        await using var h = await _gvisor.HarnessAsync(c => c with { Transport = TransportPolicy.Copy });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("copy", "@run 0 grep -q 'line 1' src/app.txt", "@write src/copied.txt back\\n"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
        Assert.Equal(["src/copied.txt"], result.FilesChanged);
        Assert.All(h.Engine.Specs.Values, spec => Assert.Empty(spec.Mounts));
    }

    [Fact]
    public async Task A_task_past_its_timeout_is_killed_and_keeps_what_it_wrote()
    {
        await using var h = await _gvisor.HarnessAsync();

        var result = Assert.Single((await h.RunAsync(new RunRequest { Tasks = [new TaskRequest { TaskId = "slow", Prompt = "@write src/early.txt before\n@sleep 300", TimeoutSec = 10 }] }, CancellationToken.None)).Results);

        Assert.Equal((TaskStatus.Timeout, (int?)null), (result.Status, result.ExitCode));
        Assert.Equal(["src/early.txt"], result.FilesChanged);
    }

    [Fact]
    public async Task A_cancelled_run_kills_its_gvisor_container_and_keeps_the_tasks_work_on_its_branch()
    {
        await using var h = await _gvisor.HarnessAsync();
        using var cancel = new CancellationTokenSource();
        h.Engine.ContainerStarted += _ => cancel.CancelAfter(TimeSpan.FromSeconds(3));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            h.RunAsync(new RunRequest { RunId = "cancelled", Tasks = [RunnerHarness.Task("a", "@write src/kept.txt kept\\n", "@sleep 300")] }, cancel.Token));

        var stored = await h.Store.ReadResultAsync("cancelled", "a", CancellationToken.None);
        Assert.Equal(TaskStatus.Cancelled, stored!.Status);
        Assert.Equal(["src/kept.txt"], stored.FilesChanged);
        Assert.Equal("kept\n", h.Repository.Git("show", $"{stored.Branch}:src/kept.txt"));
        Assert.Equal(h.Engine.Specs.Count, h.Engine.Removed.Count);
    }

    [Fact]
    public async Task The_real_codex_runs_commands_and_applies_a_patch_under_runsc()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario(
            "edit",
            ModelStep.Exec("uname -r && ls -l src"),
            ModelStep.ApplyPatch("*** Begin Patch\n*** Add File: src/hello.txt\n+hello from gVisor\n*** End Patch"),
            ModelStep.Message("Added src/hello.txt."));
        await using var h = await RealCodex.HarnessAsync(_gvisor, model);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("edit", "Add a greeting.", ScriptedModelServer.Marker("edit")))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal(0, Assert.Single(result.CommandsRun).ExitCode);
        Assert.Contains("app.txt", result.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.Equal(["src/hello.txt"], result.FilesChanged);
        Assert.Equal("Added src/hello.txt.", result.Summary);
        Assert.Equal("runsc", result.Runtime);
    }

    [Fact]
    public async Task The_real_codex_runs_npm_test_in_a_node_environment_whose_npm_ci_ran_under_runsc()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario("node", ModelStep.Exec("npm test"), ModelStep.Message("Tests pass."));
        await using var h = await RealCodex.HarnessAsync(_gvisor, model, c => c with { Environment = NodeToolchainTests.Spec });
        NodeToolchainTests.WriteNodeRepository(h.Repository);

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("node", "Run the tests.", ScriptedModelServer.Marker("node")))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal(("/bin/bash -lc 'npm test'", (int?)0), (Assert.Single(result.CommandsRun).Cmd, result.CommandsRun[0].ExitCode));
        Assert.Contains("pass 1", result.Evidence, StringComparison.Ordinal);
        Assert.Equal("runsc", result.Runtime);
    }

    [Theory]
    [InlineData("runsc", "runsc: /usr/bin/runsc --network=host --overlay2=none", "a kernel of their own, not the engine's")]
    [InlineData("runc", "runc: runc", "the engine's own kernel")]
    public async Task The_doctor_starts_the_task_image_under_the_runtime_and_names_the_kernel_its_tasks_see(string runtime, string described, string kernel)
    {
        using var repository = new TestRepository();
        repository.Write(RunnerConfig.FileName, $$"""{ "image": "{{DockerFixture.FakeCodexImage}}", "runtime": "{{runtime}}" }""");
        var git = new GitCli(NullLogger<GitCli>.Instance);
        var scope = Boxes.Labels.ScopeOf((await HostRepository.OpenAsync(git, repository.Path, CancellationToken.None)).CommonDir);

        var report = await Doctor.ExamineAsync(repository.Path, docker.Engine.Backend, git, _ => null, CancellationToken.None);

        var check = Assert.Single(report.Checks, c => c.Check == "runtime");
        Assert.True(check.Status == Doctor.Ok, $"{check.Status}: {check.Detail} ({check.Fix})");
        Assert.Contains(described, check.Detail, StringComparison.Ordinal);
        Assert.Contains(kernel, check.Detail, StringComparison.Ordinal);
        Assert.Empty(await docker.Engine.ListContainersAsync(Boxes.LabelSelector.Of(Boxes.Labels.Scope, scope), CancellationToken.None));
    }
}
