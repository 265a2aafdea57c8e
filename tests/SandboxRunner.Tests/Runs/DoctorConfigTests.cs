using SandboxRunner.Configuration;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

/// <summary>The doctor and the run's preflight with a config that is broken, or that reads well but cannot work.</summary>
public sealed class DoctorConfigTests
{
    private static Task<DoctorReport> ExamineAsync(RunnerTestBed bed) =>
        Doctor.ExamineAsync(bed.Path, bed.Backend, bed.GitCli, _ => "sk-test", CancellationToken.None);

    [Fact]
    public async Task A_broken_config_is_reported_as_broken_and_nothing_is_checked_against_defaults_nobody_configured()
    {
        using var bed = await RunnerTestBed.CreateAsync();
        bed.Write(RunnerConfig.FileName, """{ "default_concurency": 2 }""");

        var report = await ExamineAsync(bed);

        Assert.False(report.Ok);
        Assert.Equal(["repository", "config", "docker"], report.Checks.Select(c => c.Check));
        var config = report.Checks[1];
        Assert.Equal(Doctor.Fail, config.Status);
        Assert.StartsWith(".mcp-codex.json: default_concurency: is not a known field (did you mean \"default_concurrency\"?)", config.Detail, StringComparison.Ordinal);
        Assert.EndsWith("(the config is broken, so the checks that depend on it were not run: image, environments, auth, network)", config.Detail, StringComparison.Ordinal);
    }

    public static TheoryData<string> LoopbackUrls => new() { "http://127.0.0.1:8080/v1", "http://localhost:11434/v1", "http://[::1]:9000/v1", "http://0.0.0.0:8080/v1", "https://api.localhost/v1" };

    [Theory]
    [MemberData(nameof(LoopbackUrls))]
    public async Task Under_deny_a_loopback_model_base_url_fails_the_doctor_with_the_fix(string url)
    {
        using var bed = await RunnerTestBed.CreateAsync();
        bed.Write(RunnerConfig.FileName, $$"""{ "network_policy": "deny", "model_base_url": "{{url}}" }""");

        var network = Assert.Single((await ExamineAsync(bed)).Checks, c => c.Check == "network");

        Assert.Equal(Doctor.Fail, network.Status);
        Assert.Equal(
            $"model_base_url: '{url}' names this machine by a loopback address, and under network_policy deny the egress proxy forwards model requests from its own " +
            "container, where it names the proxy itself (every request would end in a 502); use an address of this machine that containers reach (its docker0 bridge " +
            "address, often 172.17.0.1, with the server listening there), or a host name that resolves to one",
            network.Detail);
    }

    [Fact]
    public async Task Under_deny_a_loopback_model_base_url_refuses_the_run_before_anything_is_created()
    {
        using var bed = await RunnerTestBed.CreateAsync(c => c with { NetworkPolicy = NetworkPolicy.Deny, ModelBaseUrl = "http://127.0.0.1:8080/v1" });

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(RunnerTestBed.Ask("t")));

        Assert.StartsWith(".mcp-codex.json: model_base_url: 'http://127.0.0.1:8080/v1' names this machine by a loopback address, and under network_policy deny", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, bed.Engine.CreatedCount);
    }

    [Fact]
    public async Task A_dry_run_is_refused_the_same_way()
    {
        using var bed = await RunnerTestBed.CreateAsync(c => c with { NetworkPolicy = NetworkPolicy.Allow, ModelBaseUrl = "http://localhost:9000/v1" });

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(new RunRequest { Tasks = [RunnerTestBed.Ask("t")], DryRun = true }, CancellationToken.None));

        Assert.Contains("a task container reaches the model from its own network, where it names the container itself", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_the_config_a_session_runs_with_the_doctor_examines_it_and_not_the_file_read_again()
    {
        using var bed = await RunnerTestBed.CreateAsync();
        bed.Write(RunnerConfig.FileName, """{ "network_policy": "allow", "image": "team/codex:file" }""");
        var session = RunnerTestBed.DefaultConfig with { Image = "team/codex:session", NetworkPolicy = NetworkPolicy.None };

        var report = await Doctor.ExamineAsync(bed.Path, bed.Backend, bed.GitCli, _ => null, session, CancellationToken.None);

        Assert.StartsWith("the session's config:", Assert.Single(report.Checks, c => c.Check == "config").Detail, StringComparison.Ordinal);
        Assert.Equal("team/codex:session is not in the engine", Assert.Single(report.Checks, c => c.Check == "image").Detail);
        Assert.Equal("network_policy none: no network but loopback (local models only)", Assert.Single(report.Checks, c => c.Check == "network").Detail);
    }

    [Theory]
    [InlineData(NetworkPolicy.None, "http://127.0.0.1:8080/v1")]
    [InlineData(NetworkPolicy.Deny, "http://172.17.0.1:8080/v1")]
    [InlineData(NetworkPolicy.Deny, "https://api.openai.com/v1")]
    public void A_model_base_url_containers_can_reach_is_fine(NetworkPolicy policy, string url)
    {
        Assert.Empty(ConfigChecks.BeforeRun(RunnerConfig.Default with { NetworkPolicy = policy, ModelBaseUrl = url }));
    }
}
