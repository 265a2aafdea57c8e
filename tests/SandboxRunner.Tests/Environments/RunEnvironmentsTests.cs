using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Fakes;
using SandboxRunner.Tests.Runs;

namespace SandboxRunner.Tests.Environments;

/// <summary>
/// A run's environments on the backend seam, against <see cref="FakeBackend"/> (which passes the backend contract the
/// Docker backend passes): setup in a box on the site its network setting names, committed with its record; the run
/// image as the checkout put into a never-started box and committed; reuse found through the image's labels; and a
/// backend that cannot snapshot refused before anything is made. Real git and a real checkout; what the real engine
/// does with the same calls is tested in the integration tests (Environments/).
/// </summary>
public sealed class RunEnvironmentsTests : IAsyncLifetime
{
    private const string BaseImage = "base:1";
    private const string CodexImage = "codex:1";
    private const string ProxyImage = "proxy:1";
    private const string StatusFile = "/var/tmp/sandbox-runner-setup.status";
    private readonly FakeEngine _engine = new(BaseImage, CodexImage, ProxyImage);
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _started = new();
    private RunnerTestBed _bed = null!;

    public RunEnvironmentsTests()
    {
        // Setup "makes" deps/ (its status file says so); the proxy and a box's namespace holder say they are ready.
        _engine.Agent = (container, killed) =>
        {
            _started.Enqueue(container.Id);
            if (container.Spec.Image == ProxyImage)
            {
                return ServeAsync(container, container.Spec.OpenStdin ? "sandbox-proxy ready" : "netns ready", killed);
            }

            if (container.TaskId == SetupRun.BoxTaskId)
            {
                container.Files[StatusFile] = Encoding.UTF8.GetBytes("?? deps/\0");
            }

            return Task.FromResult(0L);
        };
    }

    private FakeBackend Backend => _engine.Backend;

    private static EnvironmentSpec Spec(SetupNetwork network = SetupNetwork.Allow) => new() { BaseImage = BaseImage, Setup = ["make deps"], SetupNetwork = network };

    public async Task InitializeAsync() => _bed = await RunnerTestBed.CreateAsync();

    public Task DisposeAsync()
    {
        _bed.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_backend_without_snapshots_is_refused_naming_it_and_the_capability_before_anything_is_made()
    {
        Backend.Capabilities = Backend.Capabilities with { Snapshots = false };
        await using var environments = Environments("run-1", Spec());

        var refusal = await Assert.ThrowsAsync<EnvironmentException>(() => environments.PrepareAsync(_ => { }, CancellationToken.None));

        Assert.Equal("environment", refusal.Field);
        Assert.Contains("'fake' backend lacks the snapshots capability", refusal.Rule, StringComparison.Ordinal);
        Assert.Empty(_engine.History);
        Assert.Equal([BaseImage, CodexImage, ProxyImage], _engine.Images.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_doctor_and_the_dry_run_see_a_backend_without_snapshots_as_unusable_for_every_environment()
    {
        Backend.Capabilities = Backend.Capabilities with { Snapshots = false };
        var config = RunnerConfig.Default with { Environment = Spec(), Environments = new Dictionary<string, EnvironmentSpec> { ["py"] = Spec() } };

        var statuses = await EnvironmentCheck.ExamineAsync(
            config, [RunnerConfig.DefaultEnvironment, "py"], _bed.Host, Backend, _bed.GitCli, new TaskImage(CodexImage, null), _bed.BaseCommit, CancellationToken.None);

        Assert.Equal([("environment", false), ("environments.py", false)], statuses.Select(s => (s.Field, s.Usable)));
        Assert.All(statuses, s => Assert.Contains("'fake' backend lacks the snapshots capability", s.Detail, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_allow_setup_runs_as_the_agents_uid_on_an_open_site_and_is_committed_with_its_record()
    {
        await using var environments = Environments("run-1", Spec());

        await environments.PrepareAsync(_ => { }, CancellationToken.None);

        var prepared = environments.Prepared[RunnerConfig.DefaultEnvironment];
        var (setup, commit) = Assert.Single(_engine.Commits, c => c.Container.TaskId == SetupRun.BoxTaskId);
        Assert.Equal(SetupState.Built, prepared.State);
        Assert.Equal(["deps/"], prepared.Setup.Artifacts);
        Assert.Equal(("bridge", "1000:1000", false), (setup.Spec.NetworkMode, setup.Spec.User, setup.Spec.ReadOnlyRootFilesystem));
        Assert.Equal(prepared.Setup.Artifacts, SetupRecord.FromLabels(commit.Labels).Artifacts);
        Assert.Equal(FakeContainerState.Removed, setup.State);
    }

    [Fact]
    public async Task The_run_image_is_the_checkout_put_into_a_never_started_box_without_network_and_goes_with_the_run()
    {
        var environments = Environments("run-1", Spec());
        await environments.PrepareAsync(_ => { }, CancellationToken.None);

        var prepared = environments.Prepared[RunnerConfig.DefaultEnvironment];
        var (box, commit) = Assert.Single(_engine.Commits, c => c.Container.TaskId == RunEnvironments.RunImageTaskId);
        Assert.Equal(prepared.RunImage.Tag, commit.Tag);
        Assert.Equal("none", box.Spec.NetworkMode);
        Assert.DoesNotContain(box.Id, _started);
        Assert.Equal("line 1\nline 2\n", Encoding.UTF8.GetString(_engine.ImageFiles[commit.Tag]["/workspace/src/app.txt"]));
        Assert.Equal(ImageRoles.Run, (await Backend.Images.InspectAsync(commit.Tag, CancellationToken.None))!.Labels[Labels.Role]);

        await environments.DisposeAsync();

        Assert.False(await Backend.Images.ExistsAsync(commit.Tag, CancellationToken.None));
    }

    [Fact]
    public async Task A_later_run_reuses_the_setup_found_by_its_image_and_reads_its_record_from_the_labels()
    {
        await using (var first = Environments("run-1", Spec()))
        {
            await first.PrepareAsync(_ => { }, CancellationToken.None);
        }

        await using var second = Environments("run-2", Spec());
        await second.PrepareAsync(_ => { }, CancellationToken.None);

        var prepared = second.Prepared[RunnerConfig.DefaultEnvironment];
        Assert.Equal(SetupState.Reused, prepared.State);
        Assert.Equal(["deps/"], prepared.Setup.Artifacts);
        Assert.Single(_engine.History, c => c.TaskId == SetupRun.BoxTaskId);
    }

    [Fact]
    public async Task A_deny_setup_in_a_run_without_egress_runs_behind_an_allowlist_site_of_its_own_that_goes_when_setup_ends()
    {
        var opened = 0;
        await using var environments = Environments("run-1", Spec(SetupNetwork.Deny), async ct =>
        {
            opened++;
            return await Backend.OpenRunSiteAsync(
                new RunSiteSpec(new BoxScope(_bed.Scope), "run-1", NetworkIntent.Allowlist, new EgressSpec(ProxyImage, ["registry.example.test"], new ModelRoute("https://api.example.test/v1", null))), ct);
        });

        await environments.PrepareAsync(_ => { }, CancellationToken.None);

        var setup = Assert.Single(_engine.History, c => c.TaskId == SetupRun.BoxTaskId && c.Spec.Image != ProxyImage);
        Assert.Equal(1, opened);
        Assert.StartsWith("container:", setup.Spec.NetworkMode, StringComparison.Ordinal);
        Assert.Contains("HTTPS_PROXY=http://sandbox-proxy:3128", setup.Spec.Command[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(_engine.LiveContainers, c => c.Spec.Image == ProxyImage);
    }

    private RunEnvironments Environments(string runId, EnvironmentSpec spec, Func<CancellationToken, Task<IRunSite>>? openSetupSite = null)
    {
        var runFolder = Path.Combine(_bed.Path, ".sandbox-runner", "runs", runId);
        var trees = Path.Combine(runFolder, "trees");
        var services = new EnvironmentServices(
            Backend, _bed.GitCli, _bed.Host, runFolder, new TreeCopy(_bed.GitCli, _bed.Host, trees, _bed.BaseCommit), new TaskImage(CodexImage, null), null,
            openSetupSite ?? (_ => throw new InvalidOperationException("an allow setup opens no allowlist site")));
        var plan = new EnvironmentRun(runId, _bed.BaseCommit, ResourcePolicy.Conservative, [new EnvironmentUse(RunnerConfig.DefaultEnvironment, spec, null)]);
        return new RunEnvironments(services, RunnerConfig.Default with { Environment = spec }, plan, _bed.Scope, trees);
    }

    private static async Task<long> ServeAsync(FakeContainer container, string ready, CancellationToken killed)
    {
        container.Stdout(ready);
        await Task.Delay(Timeout.Infinite, killed);
        return 0;
    }
}
