using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Containment;

/// <summary>
/// A run's egress proxy serves that run only (issue 21, breach 2). With a <c>deny</c> run held mid-task (its proxy
/// up, holding the key), every other kind of container tries both proxy ports at both of its addresses, the
/// default bridge's and the run network's: a task of another run of the same repository, a task of another
/// repository under <c>allow</c>, a plain container on the default bridge, and another repository's setup. None
/// gets an answer and the model endpoint never sees the key from them; the held run's own task still reaches
/// the model through its proxy and keeps its work.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ProxyReachTests(DockerFixture docker)
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(4);

    /// <summary>
    /// A shell line that asks both proxy ports at each address, bounded per try, and prints <c>REACHED</c> for any
    /// answer: nginx would forward <c>/v1/…</c> to the model with the key, squid an absolute URL to an allowlisted host.
    /// </summary>
    private static string Attack(string who, HeldDenyRun victim, params string[] addresses) =>
        string.Concat(addresses.Select(a =>
            $"timeout 5 bash -c \"exec 3<>/dev/tcp/{a}/8080 && printf 'GET /attack-{who} HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3 && cat <&3\" | grep -q model-body && echo REACHED {a}:8080; " +
            $"timeout 5 bash -c \"exec 3<>/dev/tcp/{a}/3128 && printf 'GET http://{victim.ModelHost}/v1/attack-{who} HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3\" | grep -q model-body && echo REACHED {a}:3128; ")) + "true";

    [Fact]
    public async Task Nothing_but_its_own_run_reaches_a_deny_runs_proxy_and_its_own_task_is_still_served()
    {
        await using var victim = await HeldDenyRun.StartAsync(docker);
        var (_, bridge, inside) = await victim.ProxyAsync();

        // Another run of the same repository, under deny: its namespace routes only to its own proxy.
        var sameRepository = victim.Harness.RunAsync(
            new RunRequest { Tasks = [RunnerHarness.Task("same-repo", $"@run * {Attack("same-repo", victim, bridge, inside)}")] }, CancellationToken.None);

        // Another repository under allow: on the default bridge, beside the proxy.
        await using var other = await RunnerHarness.CreateAsync(docker, c => c with { NetworkPolicy = NetworkPolicy.Allow });
        var otherRepository = other.RunAsync(RunnerHarness.Task("other-repo", $"@run * {Attack("other-repo", victim, bridge, inside)}"));

        // Another repository's setup, which has the network by default.
        await using var setup = await SetupHarnessAsync(Attack("setup", victim, bridge, inside));
        var setupRun = setup.RunAsync(RunnerHarness.Task("after-setup", "@message set up"));

        var plain = await PlainContainerAsync(Attack("plain", victim, bridge, inside));

        var results = await Task.WhenAll(sameRepository, otherRepository, setupRun).WaitAsync(Bound);
        var own = await victim.FinishAsync();

        var outputs = new Dictionary<string, string>
        {
            ["same repository"] = Assert.Single(results[0].Results).CommandsRun[0].OutputTail,
            ["other repository"] = Assert.Single(results[1].Results).CommandsRun[0].OutputTail,
            ["setup"] = await File.ReadAllTextAsync(Path.Combine(setup.Repository.Path, RunStore.FolderName, results[2].RunId, "environments", "default", "setup.log")),
            ["plain container"] = plain,
        };
        Assert.All(outputs, o => Assert.False(System.Text.RegularExpressions.Regex.IsMatch(o.Value, "^REACHED", System.Text.RegularExpressions.RegexOptions.Multiline), $"{o.Key} reached the proxy: {o.Value}"));
        Assert.All(results, r => Assert.Equal(TaskStatus.Success, Assert.Single(r.Results).Status));
        Assert.DoesNotContain(victim.Model.Requests, r => r.Contains("attack", StringComparison.Ordinal));
        Assert.StartsWith("GET /v1/from-the-victim ", Assert.Single(victim.KeyedModelRequests), StringComparison.Ordinal);
        Assert.Contains("model-body", own.CommandsRun[1].OutputTail, StringComparison.Ordinal);
    }

    private async Task<RunnerHarness> SetupHarnessAsync(string attack)
    {
        var spec = new EnvironmentSpec
        {
            BaseImage = "debian:bookworm-slim",
            Setup = [$"bash -c '{attack.Replace("'", "'\\''", StringComparison.Ordinal)}'"],
            CacheKeys = ["deps.lock"],
        };
        var h = await RunnerHarness.CreateAsync(docker, c => c with { Environment = spec });
        h.Repository.Write("deps.lock", $"lock {Guid.NewGuid():N}\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");
        return h;
    }

    /// <summary>A container of nobody's run on the default bridge (the fake Codex image, uid 1000); its output.</summary>
    private async Task<string> PlainContainerAsync(string script)
    {
        var id = await docker.Engine.CreateAsync(new ContainerSpec
        {
            Image = DockerFixture.FakeCodexImage,
            Command = ["bash", "-c", script],
            User = "1000:1000",
            WorkingDirectory = "/",
            Environment = new Dictionary<string, string>(),
            Mounts = [],
            Labels = new Dictionary<string, string> { ["sandbox-runner.test"] = "proxy-reach" },
            Limits = new ResourceLimits(256L << 20, 0.5, 64, 16L << 20),
            NetworkMode = "bridge",
        }, CancellationToken.None);
        try
        {
            await docker.Engine.StartAsync(id, CancellationToken.None);
            await docker.Engine.WaitAsync(id, CancellationToken.None).WaitAsync(Bound);
            var output = new System.Text.StringBuilder();
            await docker.Engine.ReadLogsAsync(id, follow: false, (_, chunk) => output.Append(System.Text.Encoding.UTF8.GetString(chunk)), CancellationToken.None);
            return output.ToString();
        }
        finally
        {
            await docker.Engine.RemoveAsync(id, CancellationToken.None);
        }
    }
}
