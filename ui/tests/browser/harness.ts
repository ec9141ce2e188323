// The real app, with the fake backend installed first.
import "./fake-backend";
import "../../src/main";
