using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Platform;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Tests.Fakes;

namespace SandboxRunner.Tests.Runs;

/// <summary>Which init a task container runs under: the runner's sealed one in its own images, Docker's otherwise.</summary>
public sealed class TaskImageTests
{
    [Fact]
    public void The_image_built_from_Dockerfile_codex_runs_under_its_own_init()
    {
        using var images = new ImageProvisioner(RunnerConfig.Default with { Image = null }, new FakeBackend(new FakeEngine("x")).Images);

        Assert.Equal(new TaskImage(ImageRecipe.Codex(RunnerConfig.Default.CodexVersion).Tag, ImageRecipe.SealedInit), images.TaskImage);
    }

    [Fact]
    public void A_configured_image_runs_under_dockers_init()
    {
        using var images = new ImageProvisioner(RunnerConfig.Default with { Image = "team/codex:1" }, new FakeBackend(new FakeEngine("x")).Images);

        Assert.Null(images.TaskImage.Init);
    }

    [Fact]
    public async Task A_task_container_of_the_runners_image_starts_codex_through_the_sealed_init_as_the_task_user()
    {
        using var bed = await RunnerTestBed.CreateAsync(c => c with { Image = null });
        bed.Engine.Images[bed.Runner.Image] = true;

        await bed.RunAsync(RunnerTestBed.Ask("t"));

        var spec = Assert.Single(bed.Engine.History, c => c.Spec.Image == bed.Runner.Image).Spec;
        Assert.Equal([ImageRecipe.SealedInit, "--user", UnixOwner.ForSandbox().ToString(), "--cwd", "/workspace", "--undumpable", "--"], spec.Entrypoint);
        Assert.False(spec.Init);
        Assert.Equal("codex", spec.Command[4]);
    }

    [Fact]
    public async Task The_sealed_init_starts_as_root_with_only_the_capabilities_that_changing_uid_takes()
    {
        using var bed = await RunnerTestBed.CreateAsync(c => c with { Image = null });
        bed.Engine.Images[bed.Runner.Image] = true;

        await bed.RunAsync(RunnerTestBed.Ask("t"));

        var spec = Assert.Single(bed.Engine.History, c => c.Spec.Image == bed.Runner.Image).Spec;
        Assert.Equal(("0:0", "/"), (spec.User, spec.WorkingDirectory));
        Assert.Equal(["SETUID", "SETGID", "SETPCAP"], spec.CapAdd);
    }

    [Fact]
    public async Task A_configured_image_runs_codex_as_the_task_user_with_no_capabilities()
    {
        using var bed = await RunnerTestBed.CreateAsync();

        await bed.RunAsync(RunnerTestBed.Ask("t"));

        var spec = Assert.Single(bed.Engine.History).Spec;
        Assert.Equal((UnixOwner.ForSandbox().ToString(), "/workspace", true), (spec.User, spec.WorkingDirectory, spec.Init));
        Assert.Null(spec.Entrypoint);
        Assert.Empty(spec.CapAdd);
    }
}
