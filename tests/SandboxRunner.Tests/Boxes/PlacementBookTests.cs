using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.Tests.Boxes;

/// <summary>How the swarm backend counts boxes swarm has not placed yet: against every node they could still land on, so a node never passes its cap.</summary>
public sealed class PlacementBookTests
{
    private static SwarmNode Node(string id, int boxes, string state = "ready") =>
        new(id, id, state, "active", new Uri("tcp://" + id + ":2376"), boxes, 2_000_000_000, 1L << 30);

    private static HashSet<string> Excluding(params string[] nodes) => [.. nodes];

    [Fact]
    public void A_box_not_yet_placed_counts_against_every_node_it_may_land_on()
    {
        var book = new PlacementBook();
        book.Book(Excluding());
        book.Book(Excluding());
        book.Book(Excluding());

        Assert.True(PlacementBook.IsFree(Node("a", 0), book.Unplaced(), cap: 4));
        Assert.False(PlacementBook.IsFree(Node("a", 1), book.Unplaced(), cap: 4));
    }

    [Fact]
    public void A_box_not_yet_placed_never_counts_against_a_node_its_constraints_exclude()
    {
        var book = new PlacementBook();
        book.Book(Excluding("a"));
        book.Book(Excluding("a"));

        Assert.True(PlacementBook.IsFree(Node("a", 1), book.Unplaced(), cap: 2));
        Assert.False(PlacementBook.IsFree(Node("b", 0), book.Unplaced(), cap: 2));
    }

    [Fact]
    public void A_node_that_joined_after_a_box_was_booked_counts_it_since_nothing_kept_the_box_off_it()
    {
        var book = new PlacementBook();
        book.Book(Excluding("a"));

        Assert.False(PlacementBook.IsFree(Node("new", 0), book.Unplaced(), cap: 1));
    }

    [Fact]
    public void A_settled_box_no_longer_counts_and_settles_once()
    {
        var book = new PlacementBook();
        var entry = book.Book(Excluding());

        Assert.True(book.Settle(entry));
        Assert.False(book.Settle(entry));
        Assert.Equal(0, book.Count);
        Assert.True(PlacementBook.IsFree(Node("a", 0), book.Unplaced(), cap: 1));
    }

    [Fact]
    public void Without_a_cap_any_usable_node_is_free_however_many_boxes_wait_for_a_node()
    {
        var book = new PlacementBook();
        for (var i = 0; i < 100; i++)
        {
            book.Book(Excluding());
        }

        Assert.True(PlacementBook.IsFree(Node("a", 50), book.Unplaced(), cap: null));
        Assert.False(PlacementBook.IsFree(Node("down", 0, state: "down"), book.Unplaced(), cap: null));
    }

    [Fact]
    public void Boxes_booked_while_each_look_sees_a_free_place_never_exceed_the_cap_wherever_swarm_puts_them()
    {
        // Two nodes with a cap of 3: book while some node looks free; then even if swarm put every box on one node, that node stays within its cap.
        var book = new PlacementBook();
        var nodes = new[] { Node("a", 1), Node("b", 2) };
        var booked = new List<HashSet<string>>();
        while (nodes.Where(n => PlacementBook.IsFree(n, book.Unplaced(), 3)).Select(n => n.Id).ToHashSet() is { Count: > 0 } free)
        {
            var excluded = nodes.Where(n => !free.Contains(n.Id)).Select(n => n.Id).ToHashSet();
            book.Book(excluded);
            booked.Add(excluded);
        }

        foreach (var node in nodes)
        {
            Assert.True(node.Boxes + booked.Count(e => !e.Contains(node.Id)) <= 3, $"node {node.Id} could get more than its cap");
        }

        Assert.Equal(2, booked.Count);
    }
}
