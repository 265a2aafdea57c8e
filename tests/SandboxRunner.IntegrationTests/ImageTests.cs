using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Boxes;

namespace SandboxRunner.IntegrationTests;

/// <summary>The runner builds its images through the Docker API from contexts it carries, tagged by content.</summary>
[Collection(DockerCollection.Name)]
public sealed class ImageTests(DockerFixture docker)
{
    private static ImageRecipe Recipe(string dockerfile) => new(
        $"sandbox-runner/test-build:{Guid.NewGuid():N}",
        new Dictionary<string, byte[]> { ["Dockerfile"] = Encoding.UTF8.GetBytes(dockerfile) },
        new Dictionary<string, string> { ["GREETING"] = "hello" });

    [Fact]
    public async Task A_recipe_is_built_through_the_api_with_its_build_args()
    {
        var recipe = Recipe("FROM debian:bookworm-slim\nARG GREETING\nRUN test \"$GREETING\" = hello\n");
        try
        {
            await docker.Engine.BuildImageAsync(recipe, CancellationToken.None);

            Assert.True(await docker.Engine.ImageExistsAsync(recipe.Tag, CancellationToken.None));
        }
        finally
        {
            await RemoveImageAsync(recipe.Tag);
        }
    }

    [Fact]
    public async Task A_failed_build_says_why_with_the_tail_of_its_log()
    {
        var recipe = Recipe("FROM debian:bookworm-slim\nRUN echo about-to-fail && exit 3\n");

        var error = await Assert.ThrowsAsync<ImageBuildException>(() => docker.Engine.BuildImageAsync(recipe, CancellationToken.None));

        Assert.Contains(recipe.Tag, error.Message, StringComparison.Ordinal);
        Assert.Contains("about-to-fail", error.Message, StringComparison.Ordinal);
        Assert.False(await docker.Engine.ImageExistsAsync(recipe.Tag, CancellationToken.None));
    }

    [Fact]
    public void The_task_image_tag_names_the_codex_version_and_the_dockerfile()
    {
        var tag = ImageRecipe.Codex("0.169.0").Tag;

        Assert.Matches(@"^sandbox-runner/codex:0\.169\.0-[0-9a-f]{12}$", tag);
        Assert.Equal(tag, ImageRecipe.Codex("0.169.0", "http://unused.invalid/x.tgz").Tag);
        Assert.NotEqual(tag, ImageRecipe.Codex("0.170.0").Tag);
        Assert.Equal(File.ReadAllBytes(Path.Combine(RepoRoot.Path, "Dockerfile.codex")), ImageRecipe.Codex("0.169.0").Context["Dockerfile"]);
    }

    [Fact]
    public async Task A_missing_egress_proxy_image_is_built_on_first_use()
    {
        var tag = ImageRecipe.EgressProxy().Tag;
        await RemoveImageAsync(tag);
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { NetworkPolicy = Configuration.NetworkPolicy.Deny, NetworkAllowlist = ["127.0.0.1:1"] });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("first", "@run 0 getent hosts sandbox-proxy"))).Results);

        Assert.Equal(Runs.TaskStatus.Success, result.Status);
        Assert.True(await docker.Engine.ImageExistsAsync(tag, CancellationToken.None));
    }

    private async Task RemoveImageAsync(string tag)
    {
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        try
        {
            await client.Images.DeleteImageAsync(tag, new ImageDeleteParameters { Force = true });
        }
        catch (DockerImageNotFoundException)
        {
        }
    }
}
