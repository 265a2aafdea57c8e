using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>The backend contract against the engine on this machine, and what only a real network can show.</summary>
[Collection(DockerCollection.Name)]
public sealed class DockerBackendContractTests(DockerFixture docker) : BackendContract
{
    protected override ITaskBackend Backend => docker.Engine.Backend;

    protected override string Image => DockerFixture.FakeCodexImage;

    protected override async Task<string> LeaveBoxAsync(IReadOnlyDictionary<string, string> labels)
    {
        // Straight through the engine's API: the backend would stamp this process as the owner.
        using var client = docker.Engine.Connection.CreateClient();
        return (await client.Containers.CreateContainerAsync(new Docker.DotNet.Models.CreateContainerParameters
        {
            Image = Image, Cmd = ["true"], Labels = new Dictionary<string, string>(labels),
        })).ID;
    }

    protected override async Task<bool> HoldsAsync(string id)
    {
        using var client = docker.Engine.Connection.CreateClient();
        var found = await client.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters
        {
            All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["id"] = new Dictionary<string, bool> { [id] = true } },
        });
        return found.Count > 0;
    }

    protected override Task RemoveLeftAsync(string id) => docker.Engine.RemoveAsync(id, CancellationToken.None);

    protected override async Task<string> ProxyImageAsync()
    {
        var recipe = ImageRecipe.EgressProxy();
        if (!await Backend.Images.ExistsAsync(recipe.Tag, CancellationToken.None))
        {
            await Backend.Images.BuildAsync(recipe, CancellationToken.None);
        }

        return recipe.Tag;
    }

    [Fact]
    public async Task A_box_on_an_allowlist_site_reaches_only_the_proxy_which_refuses_other_hosts_and_reports_them()
    {
        var since = DateTimeOffset.UtcNow;
        await using var site = await Backend.OpenRunSiteAsync(
            new RunSiteSpec(Scope, "run-deny", NetworkIntent.Allowlist, new EgressSpec(await ProxyImageAsync(), ["allowed.example.test"], new ModelRoute("https://api.example.test/v1", null))),
            CancellationToken.None);
        var probe = """
            exec 3<>/dev/tcp/sandbox-proxy/3128 && printf 'GET http://outside.example.test/ HTTP/1.0\r\n\r\n' >&3 && head -1 <&3
            if (exec 4<>/dev/tcp/1.1.1.1/80) 2>/dev/null; then echo direct-reached; else echo direct-refused; fi
            """;
        await using var box = await site.CreateBoxAsync(
            new BoxSpec
            {
                Image = Image,
                Entrypoint = [],
                Command = ["bash", "-c", probe],
                User = "65534:65534",
                WorkingDirectory = "/",
                Environment = new Dictionary<string, string>(),
                Limits = new ResourceLimits(256L * 1024 * 1024, 0.5, 64, 16L * 1024 * 1024),
                Identity = new BoxIdentity("deny"),
            },
            CancellationToken.None);
        var stdout = new StringBuilder();

        await box.RunAsync(TimeSpan.FromMinutes(2), (_, chunk) => stdout.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, CancellationToken.None);

        Assert.Contains("403", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("direct-refused", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("outside.example.test", await site.RefusedHostsAsync(box, since, CancellationToken.None));
    }
}
