using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Tests.Fakes;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// The OCI runtime a task's container starts with (issue 27): named by the config or one of its environments, checked
/// against the engine's list before anything is created, and reported in the result.
/// </summary>
public sealed class RuntimeTests
{
    private static readonly EngineRuntime Runc = new("runc", "runc", []);
    private static readonly EngineRuntime Runsc = new("runsc", "/usr/bin/runsc", ["--network=host", "--overlay2=none"]);
    private static readonly EngineRuntime RunscNoNetwork = new("runsc-nonet", "/usr/bin/runsc", ["--network=none", "--overlay2=none"]);
    private static readonly EngineRuntime RunscWithOverlay = new("gvisor", "/usr/local/bin/runsc", ["--network=host"]);

    private static async Task<RunnerTestBed> BedAsync(Func<RunnerConfig, RunnerConfig> configure, string engineDefault = "runc", params EngineRuntime[] extra)
    {
        var bed = await RunnerTestBed.CreateAsync(configure);
        bed.Engine.Runtimes = new EngineRuntimes(engineDefault, new[] { Runc }.Concat(extra).ToDictionary(r => r.Name, StringComparer.Ordinal));
        return bed;
    }

    [Fact]
    public async Task A_task_with_no_runtime_named_runs_under_the_engines_default_and_its_result_says_which()
    {
        using var bed = await BedAsync(c => c, engineDefault: "runsc", Runsc);

        var result = Assert.Single((await bed.RunAsync(RunnerTestBed.Ask("t"))).Results);

        Assert.Equal("runsc", result.Runtime);
        Assert.Equal("runsc", Assert.Single(bed.Engine.History).Spec.Runtime);
    }

    [Fact]
    public async Task On_a_backend_whose_boxes_cannot_name_a_runtime_a_task_names_none_and_runs_under_its_nodes_default()
    {
        using var bed = await BedAsync(c => c);
        bed.Backend.Capabilities = bed.Backend.Capabilities with { Runtimes = false };

        var result = Assert.Single((await bed.RunAsync(RunnerTestBed.Ask("t"))).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Null(result.Runtime);
        Assert.Null(Assert.Single(bed.Engine.History).Spec.Runtime);
    }

    [Fact]
    public async Task A_configured_runtime_starts_the_task_container_and_is_in_the_stored_result()
    {
        using var bed = await BedAsync(c => c with { Runtime = "runsc" }, extra: Runsc);

        var run = await bed.RunAsync(RunnerTestBed.Ask("t"));

        Assert.Equal(TaskStatus.Success, Assert.Single(run.Results).Status);
        Assert.Equal("runsc", Assert.Single(bed.Engine.History).Spec.Runtime);
        Assert.Equal("runsc", (await bed.StoredResultAsync(run.RunId, "t")).Runtime);
    }

    [Fact]
    public async Task A_run_naming_a_runtime_the_engine_lacks_is_refused_before_anything_is_created_with_how_to_register_it()
    {
        using var bed = await BedAsync(c => c with { Runtime = "runsc" });

        var error = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(new RunRequest { RunId = "no-runsc", Tasks = [RunnerTestBed.Ask("t")] }, CancellationToken.None));

        var problem = Assert.Single(error.Problems);
        Assert.Equal("runtime", problem.Field);
        Assert.Contains("'runsc' is not a runtime of the Docker engine (it lists runc)", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("bash .ci/setup-gvisor", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("\"runtimeArgs\": [\"--network=host\", \"--overlay2=none\"]", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("SIGHUP", problem.Rule, StringComparison.Ordinal);
        Assert.Equal(0, bed.Engine.CreatedCount);
        Assert.False(bed.Store.Exists("no-runsc"));
        Assert.Empty(bed.TaskFolders());
    }

    [Fact]
    public async Task A_dry_run_refuses_a_missing_runtime_too_and_names_a_present_one_in_each_result()
    {
        using var missing = await BedAsync(c => c with { Runtime = "kata" });
        using var present = await BedAsync(c => c with { Runtime = "runsc" }, extra: Runsc);

        var error = await Assert.ThrowsAsync<InvalidInputException>(() => missing.RunAsync(new RunRequest { DryRun = true, Tasks = [RunnerTestBed.Ask("t")] }, CancellationToken.None));
        var skipped = Assert.Single((await present.RunAsync(new RunRequest { DryRun = true, Tasks = [RunnerTestBed.Ask("t")] }, CancellationToken.None)).Results);

        Assert.Contains("register it under \"runtimes\"", Assert.Single(error.Problems).Rule, StringComparison.Ordinal);
        Assert.Equal((TaskStatus.Skipped, "runsc"), (skipped.Status, skipped.Runtime));
        Assert.Equal(0, present.Engine.CreatedCount);
    }

    [Fact]
    public async Task An_environments_own_runtime_is_refused_under_that_environments_field()
    {
        using var bed = await BedAsync(c => c with
        {
            Runtime = "runsc",
            Environments = new Dictionary<string, EnvironmentSpec> { ["node"] = new() { BaseImage = "node:22", Runtime = "kata" } },
        }, extra: Runsc);

        var error = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(new RunRequest
        {
            Tasks = [RunnerTestBed.Ask("plain"), RunnerTestBed.Ask("in-node") with { Environment = "node" }],
        }, CancellationToken.None));

        var problem = Assert.Single(error.Problems);
        Assert.Equal("environments.node.runtime", problem.Field);
        Assert.StartsWith("'kata' is not a runtime", problem.Rule, StringComparison.Ordinal);
        Assert.Equal(0, bed.Engine.CreatedCount);
    }

    [Fact]
    public void An_environments_runtime_wins_over_the_top_level_one()
    {
        var config = RunnerConfig.Default with { Runtime = "runsc" };
        var task = new TaskPlan("t", "p", ["**"], [], TimeSpan.FromMinutes(1)) { EnvironmentName = "node", Environment = new EnvironmentSpec { BaseImage = "node:22", Runtime = "runc" } };

        Assert.Equal("runc", RuntimeCheck.Configured(task, config));
        Assert.Equal("runsc", RuntimeCheck.Configured(task with { Environment = task.Environment! with { Runtime = null } }, config));
    }

    [Theory]
    [InlineData(NetworkPolicy.Deny)]
    [InlineData(NetworkPolicy.Allow)]
    public async Task A_runtime_registered_without_a_network_is_refused_where_the_policy_gives_tasks_one(NetworkPolicy policy)
    {
        using var bed = await BedAsync(c => c with { Runtime = "runsc-nonet", NetworkPolicy = policy }, extra: RunscNoNetwork);

        var error = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(RunnerTestBed.Ask("t")));

        var problem = Assert.Single(error.Problems);
        Assert.Equal("runtime", problem.Field);
        Assert.Contains("registered with --network=none", problem.Rule, StringComparison.Ordinal);
        Assert.Equal(0, bed.Engine.CreatedCount);
    }

    [Fact]
    public async Task A_runtime_registered_without_a_network_serves_network_policy_none()
    {
        using var bed = await BedAsync(c => c with { Runtime = "runsc-nonet", NetworkPolicy = NetworkPolicy.None }, extra: RunscNoNetwork);

        var result = Assert.Single((await bed.RunAsync(RunnerTestBed.Ask("t"))).Results);

        Assert.Equal((TaskStatus.Success, "runsc-nonet"), (result.Status, result.Runtime));
        Assert.Equal("none", Assert.Single(bed.Engine.History).Spec.NetworkMode);
    }

    [Fact]
    public async Task An_environment_task_under_gvisor_with_its_own_root_overlay_is_refused_since_its_checkout_would_be_lost()
    {
        using var bed = await BedAsync(c => c with
        {
            Runtime = "gvisor",
            Environments = new Dictionary<string, EnvironmentSpec> { ["node"] = new() { BaseImage = "node:22" } },
        }, extra: RunscWithOverlay);

        var error = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(RunnerTestBed.Ask("t") with { Environment = "node" }));

        var problem = Assert.Single(error.Problems);
        Assert.Equal("runtime", problem.Field);
        Assert.Contains("without --overlay2=none", problem.Rule, StringComparison.Ordinal);
        Assert.Equal(0, bed.Engine.CreatedCount);
    }

    [Fact]
    public async Task A_plain_task_under_gvisor_with_its_own_root_overlay_runs_since_its_tree_is_a_mount()
    {
        using var bed = await BedAsync(c => c with { Runtime = "gvisor" }, extra: RunscWithOverlay);

        var result = Assert.Single((await bed.RunAsync(RunnerTestBed.Ask("t"))).Results);

        Assert.Equal((TaskStatus.Success, "gvisor"), (result.Status, result.Runtime));
    }
}
