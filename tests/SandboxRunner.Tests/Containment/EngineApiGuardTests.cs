using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Containment;

/// <summary>
/// No task and no setup reaches the engine's API (issue 21, breach 1): on an engine that answers without
/// credentials, <c>allow</c> for tasks and for setup is refused before anything is created, with the reason and
/// the fix; where it does not, or where nothing would sit on the bridge, the run goes ahead.
/// </summary>
public sealed class EngineApiGuardTests
{
    private const string Exposed = "the engine is reached at tcp://docker:2375/ over plain TCP, without TLS";

    [Fact]
    public async Task Allow_on_an_exposed_engine_is_refused_before_any_container_with_tls_and_deny_as_the_fix()
    {
        using var bed = await RunnerTestBed.CreateAsync(c => c with { NetworkPolicy = NetworkPolicy.Allow });
        bed.Engine.Exposure = Exposed;

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(RunnerTestBed.Ask("t")));

        var problem = Assert.Single(refused.Problems);
        Assert.Equal("network_policy", problem.Field);
        Assert.Contains("plain TCP", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("DOCKER_TLS_VERIFY=1", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("network_policy to \"deny\"", problem.Rule, StringComparison.Ordinal);
        Assert.Equal(0, bed.Engine.CreatedCount);
    }

    [Fact]
    public async Task A_setup_with_the_network_on_an_exposed_engine_is_refused_naming_its_environment()
    {
        var spec = new EnvironmentSpec { BaseImage = "debian:bookworm-slim", Setup = ["npm ci"] };
        using var bed = await RunnerTestBed.CreateAsync(c => c with { Environments = new Dictionary<string, EnvironmentSpec> { ["node"] = spec } });
        bed.Engine.Exposure = Exposed;

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() =>
            bed.RunAsync(new RunRequest { Tasks = [RunnerTestBed.Ask("t")], Environment = "node" }, CancellationToken.None));

        var problem = Assert.Single(refused.Problems);
        Assert.Equal("environments.node.setup_network", problem.Field);
        Assert.Contains("set environments.node.setup_network to \"deny\"", problem.Rule, StringComparison.Ordinal);
        Assert.Equal(0, bed.Engine.CreatedCount);
    }

    [Theory]
    [InlineData(NetworkPolicy.None)]
    [InlineData(NetworkPolicy.Deny)]
    public async Task Tasks_off_the_bridge_are_planned_on_an_exposed_engine(NetworkPolicy policy)
    {
        using var bed = await RunnerTestBed.CreateAsync(c => c with { NetworkPolicy = policy });
        bed.Engine.Exposure = Exposed;

        // A dry run is the whole plan, checks included (deny's proxy would never get ready on the fake engine).
        var run = await bed.Runner.RunAsync(new RunRequest { Tasks = [RunnerTestBed.Ask("t")], DryRun = true }, null, CancellationToken.None);

        Assert.Single(run.Results);
    }

    [Fact]
    public async Task The_doctor_fails_an_exposed_engine_when_the_config_allows_and_names_the_fix()
    {
        using var bed = await RunnerTestBed.CreateAsync();
        File.WriteAllText(System.IO.Path.Combine(bed.Path, RunnerConfig.FileName), """{ "network_policy": "allow" }""");
        bed.Engine.Exposure = Exposed;

        var report = await Doctor.ExamineAsync(bed.Path, bed.Backend, bed.GitCli, _ => null, CancellationToken.None);

        var check = Assert.Single(report.Checks, c => c.Check == "engine-api");
        Assert.Equal(Doctor.Fail, check.Status);
        Assert.Contains("DOCKER_TLS_VERIFY=1", check.Fix, StringComparison.Ordinal);
        Assert.False(report.Ok);
    }

    [Fact]
    public async Task Allow_on_an_engine_that_answers_no_stranger_runs()
    {
        using var bed = await RunnerTestBed.CreateAsync(c => c with { NetworkPolicy = NetworkPolicy.Allow });

        var run = await bed.RunAsync(RunnerTestBed.Ask("t"));

        Assert.Equal(TaskStatus.Success, Assert.Single(run.Results).Status);
    }
}
