using SandboxRunner.Configuration;
using SandboxRunner.Runs;
using SandboxRunner.Sandbox;
using SandboxRunner.Tests.Fakes;

namespace SandboxRunner.Tests.Runs;

/// <summary>Which init a task container runs under: the runner's sealed one in its own images, Docker's otherwise.</summary>
public sealed class TaskImageTests
{
    [Fact]
    public void The_image_built_from_Dockerfile_codex_runs_under_its_execute_only_init()
    {
        using var images = new ImageProvisioner(RunnerConfig.Default with { Image = null }, new FakeEngine("x"));

        Assert.Equal(new TaskImage(ImageRecipe.Codex(RunnerConfig.Default.CodexVersion).Tag, ImageRecipe.SealedInit), images.TaskImage);
    }

    [Fact]
    public void A_configured_image_runs_under_dockers_init()
    {
        using var images = new ImageProvisioner(RunnerConfig.Default with { Image = "team/codex:1" }, new FakeEngine("x"));

        Assert.Null(images.TaskImage.Init);
    }

    [Fact]
    public async Task A_task_container_of_the_runners_image_gets_the_sealed_init_as_entrypoint_and_no_docker_init()
    {
        using var bed = await RunnerTestBed.CreateAsync(c => c with { Image = null });
        bed.Engine.Images[bed.Runner.Image] = true;

        await bed.RunAsync(RunnerTestBed.Ask("t"));

        var spec = Assert.Single(bed.Engine.History, c => c.Spec.Image == bed.Runner.Image).Spec;
        Assert.Equal([ImageRecipe.SealedInit, "--"], spec.Entrypoint);
        Assert.False(spec.Init);
    }
}
