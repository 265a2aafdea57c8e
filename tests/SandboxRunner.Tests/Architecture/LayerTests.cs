namespace SandboxRunner.Tests.Architecture;

/// <summary>
/// The layers hold in the built assemblies: arrows point down only (docs/architecture.md). Today's violations are
/// listed in <see cref="LayerRules.Exceptions"/> with who removes them; a new arrow up fails, and so does a listed
/// one that is gone.
/// </summary>
public sealed class LayerTests
{
    private static NamespaceGraph Graph => NamespaceGraph.Current;

    private static void AssertHolds(LayerRule rule)
    {
        var broken = LayerCheck.NewArrows(rule, Graph.Arrows, LayerRules.Exceptions);

        Assert.True(broken.Count == 0, string.Join("\n", broken));
    }

    [Fact]
    public void Configuration_imports_nothing_internal() => AssertHolds(LayerRules.ConfigurationImportsNothingInternal);

    [Fact]
    public void Platform_imports_nothing_internal() => AssertHolds(LayerRules.PlatformImportsNothingInternal);

    [Fact]
    public void The_engine_layer_and_every_backend_use_only_Platform() => AssertHolds(LayerRules.EngineLayerUsesOnlyPlatform);

    [Fact]
    public void Environments_never_imports_Runs() => AssertHolds(LayerRules.EnvironmentsNeverImportsRuns);

    [Fact]
    public void Environments_uses_the_seam_and_never_a_backend() => AssertHolds(LayerRules.EnvironmentsUsesOnlyTheSeam);

    [Fact]
    public void Nothing_but_the_Docker_backend_and_its_factory_names_a_Docker_type() => AssertHolds(LayerRules.OnlyTheFactoryNamesTheDockerBackend);

    [Fact]
    public void Git_never_imports_the_engine_layer_or_Runs() => AssertHolds(LayerRules.GitNeverImportsEngineOrRuns);

    [Fact]
    public void The_library_never_imports_the_host() => AssertHolds(LayerRules.LibraryNeverImportsHost);

    [Fact]
    public void The_hosts_verbs_never_import_its_MCP_tools() => AssertHolds(LayerRules.VerbsNeverImportMcp);

    [Fact]
    public void The_hosts_MCP_tools_never_import_its_verbs() => AssertHolds(LayerRules.McpNeverImportsVerbs);

    [Fact]
    public void Every_listed_exception_still_occurs()
    {
        var stale = LayerCheck.StaleExceptions(Graph.Arrows, LayerRules.Exceptions);

        Assert.True(stale.Count == 0, string.Join("\n", stale));
    }

    [Fact]
    public void Every_listed_exception_breaks_a_rule()
    {
        var needless = LayerCheck.NeedlessExceptions(LayerRules.All, LayerRules.Exceptions);

        Assert.True(needless.Count == 0, string.Join("\n", needless));
    }

    [Fact]
    public void The_graph_reads_arrows_from_both_the_library_and_the_host()
    {
        // Without this a reader that saw nothing would pass every rule.
        Assert.Contains(new Arrow("Runs", "Git"), Graph.Arrows.Keys);
        Assert.Contains(Graph.Arrows.Keys, a => a.From.StartsWith("Host.", StringComparison.Ordinal) && a.To == "Configuration");
    }
}
