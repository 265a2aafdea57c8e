namespace SandboxRunner.Tests.Architecture;

/// <summary>How the layer check judges a graph, on made-up graphs: what fails, what passes, what the message says.</summary>
public sealed class LayerCheckTests
{
    private static Dictionary<Arrow, IReadOnlyList<string>> Graph(params (string From, string To, string Made)[] arrows) =>
        arrows.ToDictionary(a => new Arrow(a.From, a.To), a => (IReadOnlyList<string>)[a.Made]);

    [Fact]
    public void A_new_arrow_up_fails_naming_the_arrow_the_types_that_make_it_and_the_fix()
    {
        var graph = Graph(("Environments", "Runs", "SetupRun uses RunStore"));

        var message = Assert.Single(LayerCheck.NewArrows(LayerRules.EnvironmentsNeverImportsRuns, graph, []));

        Assert.Contains("Environments → Runs", message, StringComparison.Ordinal);
        Assert.Contains("SetupRun uses RunStore", message, StringComparison.Ordinal);
        Assert.Contains(LayerRules.EnvironmentsNeverImportsRuns.Fix, message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_factory_may_name_the_Docker_backend_and_anything_else_that_names_it_fails()
    {
        var graph = new Dictionary<Arrow, IReadOnlyList<string>>
        {
            [new("Runs", "Boxes.Docker")] = ["BackendFactory uses DockerBackend", "TaskRunner uses DockerEngine"],
            [new("Host.Commands", "Boxes.Docker")] = ["ImageCommand uses DockerBackend"],
            [new("Boxes.Docker", "Boxes")] = ["DockerBackend uses ITaskBackend"],
            [new("Boxes.Swarm", "Boxes.Docker")] = ["SwarmBackend uses DockerContainers"],
        };

        var broken = LayerCheck.NewArrows(LayerRules.OnlyTheFactoryNamesTheDockerBackend, graph, []);

        Assert.Equal(2, broken.Count);
        Assert.Contains(broken, m => m.Contains("TaskRunner uses DockerEngine", StringComparison.Ordinal) && !m.Contains("BackendFactory uses", StringComparison.Ordinal));
        Assert.Contains(broken, m => m.Contains("Host.Commands → Boxes.Docker", StringComparison.Ordinal));
        Assert.Empty(LayerCheck.NewArrows(LayerRules.OnlyTheFactoryNamesTheDockerBackend, Graph(("Runs", "Boxes.Docker", "BackendFactory uses DockerBackend")), []));
    }

    [Fact]
    public void A_listed_exception_passes_while_it_occurs()
    {
        var graph = Graph(("Environments", "Runs", "SetupRun uses RunStore"));
        LayerException[] exceptions = [new(new("Environments", "Runs"), "someone")];

        Assert.Empty(LayerCheck.NewArrows(LayerRules.EnvironmentsNeverImportsRuns, graph, exceptions));
    }

    [Fact]
    public void A_listed_exception_that_no_longer_occurs_fails_as_stale()
    {
        LayerException[] exceptions = [new(new("Environments", "Runs"), "runsplit")];

        var message = Assert.Single(LayerCheck.StaleExceptions(Graph(), exceptions));

        Assert.Contains("Environments → Runs", message, StringComparison.Ordinal);
        Assert.Contains("delete its line", message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_exception_for_an_allowed_arrow_fails_as_needless()
    {
        LayerException[] exceptions = [new(new("Runs", "Git"), "nobody")];

        Assert.Single(LayerCheck.NeedlessExceptions(LayerRules.All, exceptions));
    }

    [Theory]
    [InlineData("Sandbox", "Runs")]
    [InlineData("Boxes", "Configuration")]
    [InlineData("Boxes.Docker", "Runs")]
    [InlineData("Boxes.Swarm", "Git")]
    public void The_engine_rule_forbids_any_engine_namespace_old_or_new_name_from_using_a_layer_above_Platform(string from, string to) =>
        Assert.True(LayerRules.EngineLayerUsesOnlyPlatform.Forbids(new(from, to)));

    [Theory]
    [InlineData("Boxes.Docker", "Boxes")]
    [InlineData("Boxes", "Boxes.Docker")]
    [InlineData("Boxes.Docker", "Platform")]
    [InlineData("Sandbox", "Platform")]
    public void The_engine_rule_allows_the_seam_its_backends_and_Platform(string from, string to) =>
        Assert.False(LayerRules.EngineLayerUsesOnlyPlatform.Forbids(new(from, to)));

    [Theory]
    [InlineData("Boxes.Docker", true)]
    [InlineData("Boxes.Swarm", true)]
    [InlineData("Boxes", false)]
    public void The_environments_rule_forbids_every_backend_and_allows_the_seam(string to, bool forbidden) =>
        Assert.Equal(forbidden, LayerRules.EnvironmentsUsesOnlyTheSeam.Forbids(new("Environments", to)));

    [Theory]
    [InlineData("Runs.Transports")]
    [InlineData("Runs")]
    public void A_rule_on_a_namespace_covers_the_namespaces_under_it(string runs) =>
        Assert.True(LayerRules.EnvironmentsNeverImportsRuns.Forbids(new("Environments", runs)));

    [Fact]
    public void A_rule_on_a_namespace_does_not_cover_one_that_only_starts_with_its_name() =>
        Assert.False(LayerRules.PlatformImportsNothingInternal.Forbids(new("PlatformTools", "Runs")));
}
